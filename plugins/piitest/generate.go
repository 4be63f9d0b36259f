package piitest

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"unicode"
)

// Seed is the generator's fixed seed: the committed corpus is
// Generate(Seed, GeneratedSamples).
const (
	Seed             = 13
	GeneratedSamples = 2400
	GeneratedTerms   = 2000
)

// FixedTerms are the tenant terms the hand-written samples use.
var FixedTerms = []string{"Project Falcon", "Acme Corp", "Müller Logistik", "Nordwind", "Blue Harbor Capital", "Orion Initiative"}

// gen is the generator's state: one seeded source, used in one fixed order.
type gen struct {
	r     *rand.Rand
	terms []string
}

func newGen(seed uint64) *gen { return &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))} }

func (g *gen) n(k int) int             { return g.r.IntN(k) }
func (g *gen) pick(s []string) string  { return s[g.r.IntN(len(s))] }
func (g *gen) digits(k int) string     { return g.from("0123456789", k) }
func (g *gen) digit(lo, hi int) string { return strconv.Itoa(lo + g.r.IntN(hi-lo+1)) }

func (g *gen) from(alphabet string, k int) string {
	b := make([]byte, k)
	for i := range b {
		b[i] = alphabet[g.r.IntN(len(alphabet))]
	}
	return string(b)
}

const (
	alnum    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	upperNum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b64url   = alnum + "-_"
	hexLower = "0123456789abcdef"
)

// Terms returns the tenant dictionary: FixedTerms and n made-up customer
// and project names, unique and never an English word.
func Terms(seed uint64, n int) []string {
	g := newGen(seed + 1)
	onsets := []string{"b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "kr", "st", "tr", "vr", "zel", "xan", "qu"}
	vowels := []string{"a", "e", "i", "o", "u", "ai", "ei", "ou"}
	codas := []string{"", "n", "r", "x", "k", "nt", "rk", "l", "s", "th"}
	suffixes := []string{"", "", " Systems", " Holdings", " GmbH", " Labs", " Capital", " Logistics", " AG", " Partners"}
	seen := map[string]bool{}
	out := append([]string(nil), FixedTerms...)
	for _, t := range out {
		seen[strings.ToLower(t)] = true
	}
	for len(out) < n+len(FixedTerms) {
		var w strings.Builder
		for range 2 + g.n(2) {
			w.WriteString(g.pick(onsets) + g.pick(vowels) + g.pick(codas))
		}
		name := strings.ToUpper(w.String()[:1]) + w.String()[1:]
		var t string
		switch g.n(4) {
		case 0:
			t = "Project " + name
		default:
			t = name + g.pick(suffixes)
		}
		if !seen[strings.ToLower(t)] && !frameWords[strings.ToLower(name)] {
			seen[strings.ToLower(t)] = true
			out = append(out, t)
		}
	}
	return out
}

// Generate returns n labelled samples made from seed: each has one to three
// entities of rotating kinds and formats and one to three look-alikes, in
// English, German, French or Spanish framing sentences, some with quotes,
// newlines and tabs that the JSON body must escape.
func Generate(seed uint64, n int) []Sample {
	g := newGen(seed)
	g.terms = Terms(seed, GeneratedTerms)
	out := make([]Sample, 0, n)
	for i := range n {
		var s Sample
		s.ID = fmt.Sprintf("gen-%04d", i+1)
		var parts []string
		ne := 1 + g.n(3)
		for k := range ne {
			// Rotate kinds so every kind gets its share; the format is random.
			kind := Kinds[(i*3+k)%len(Kinds)]
			l := g.entity(kind)
			s.Entities = append(s.Entities, l)
			parts = append(parts, g.frame(l.Value, entityFrames))
		}
		nl := 1 + g.n(3)
		for k := range nl {
			l := g.lookalike(lookalikeKinds[(i*2+k)%len(lookalikeKinds)])
			s.Lookalikes = append(s.Lookalikes, l)
			parts = append(parts, g.frame(l.Value, lookalikeFrames))
		}
		g.r.Shuffle(len(parts), func(a, b int) { parts[a], parts[b] = parts[b], parts[a] })
		s.Text = g.pick(openers) + strings.Join(parts, g.pick(joiners)) + g.pick(closers)
		out = append(out, s)
	}
	return out
}

var (
	openers = []string{"", "Hi team, ", "Hallo, ", "Bonjour, ", "Hola, ", "Summary:\n", "Ticket update -\t", "Quick note: "}
	joiners = []string{" ", "; ", ". ", "\n", ", and ", " – "}
	closers = []string{"", ".", " Thanks!", "\nBest regards", " Danke.", " Merci !"}

	entityFrames = []string{
		"please contact %s", "my details: %s", "(%s)", "\"%s\"", "reach me at %s today", "Kontakt: %s",
		"écrivez à %s", "value=%s;", "[%s]", "customer %s asked", "<%s>", "from %s:", "use %s\n", "'%s'",
	}
	lookalikeFrames = []string{
		"see %s", "on %s", "ref %s", "(%s)", "version %s", "at %s", "total %s", "id %s", "item %s,", "%s",
	}
)

// frameWords are the words of the framing phrases: no generated term may be
// one, or the framing itself would be redacted.
var frameWords = func() map[string]bool {
	m := map[string]bool{}
	for _, list := range [][]string{openers, joiners, closers, entityFrames, lookalikeFrames} {
		for _, s := range list {
			for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) }) {
				m[w] = true
			}
		}
	}
	return m
}()

// frame puts value into a framing phrase.
func (g *gen) frame(value string, frames []string) string {
	return fmt.Sprintf(g.pick(frames), value)
}

func (g *gen) entity(kind string) Label {
	switch kind {
	case Email:
		return g.email()
	case Phone:
		return g.phone()
	case Card:
		return g.card()
	case IBAN:
		return g.iban()
	case SSN:
		return g.ssn()
	case IP:
		return g.ip()
	case JWT:
		return g.jwt()
	case Secret:
		return g.secret()
	case Term:
		t := g.pick(g.terms)
		f := "as-listed"
		switch g.n(3) {
		case 1:
			t, f = strings.ToLower(t), "lower"
		case 2:
			t, f = strings.ToUpper(t), "upper"
		}
		return Label{Kind: Term, Format: f, Value: t}
	default:
		return Label{Kind: Pattern, Format: "employee-id", Value: "EMP-" + g.digits(6)}
	}
}

func (g *gen) email() Label {
	first := []string{"john", "anna", "jane", "li", "omar", "sofia", "hans", "marie", "kenji", "priya", "lucas"}
	last := []string{"doe", "smith", "schmidt", "dubois", "garcia", "tanaka", "sharma", "silva", "kowalski"}
	doms := []string{"example.com", "mail.example.co.uk", "example.org", "company-name.io", "corp.example.de", "sub.domain.example.net"}
	switch g.n(12) {
	case 0:
		return Label{Email, "idn-domain", g.pick([]string{"bob", "info", "kontakt", "anna"}) + "@" + g.pick([]string{"bücher.de", "münchen.de", "müller-bau.at", "café.fr", "straße.example"})}
	case 1:
		return Label{Email, "unicode-local", g.pick([]string{"hans.müller", "josé.garcía", "zoë", "françois", "jürgen.groß"}) + "@" + g.pick(doms)}
	case 2:
		return Label{Email, "greek-cyrillic", g.pick([]string{"δοκιμή@παράδειγμα.ελ", "пользователь@пример.рф", "иван@почта.рф"})}
	case 3:
		return Label{Email, "plus-tag", g.pick(first) + "+" + g.pick([]string{"invoices", "spam", "2024"}) + "@" + g.pick(doms)}
	case 4:
		return Label{Email, "upper", strings.ToUpper(g.pick(first)+"_"+g.pick(last)) + "@" + strings.ToUpper(g.pick(doms))}
	case 5:
		return Label{Email, "punycode", g.pick(first) + "@xn--bcher-kva.de"}
	case 6:
		return Label{Email, "digits", g.digits(5+g.n(4)) + "@" + g.pick(doms)}
	default:
		return Label{Email, "ascii", g.pick(first) + g.pick([]string{".", "_", "-", ""}) + g.pick(last) + "@" + g.pick(doms)}
	}
}

func (g *gen) nxx() string { return g.digit(2, 9) + g.digits(2) }

func (g *gen) phone() Label {
	us := func() (string, string, string) { return g.nxx(), g.nxx(), g.digits(4) }
	switch g.n(7) {
	case 0:
		a, b, c := us()
		return g.pickFormat("us", []string{
			"(" + a + ") " + b + "-" + c, a + "-" + b + "-" + c, a + "." + b + "." + c, a + b + c,
			"+1 " + a + " " + b + " " + c, "+1-" + a + "-" + b + "-" + c, "1-" + a + "-" + b + "-" + c, "+1 (" + a + ") " + b + "-" + c,
		})
	case 1:
		l, m := g.digits(4), g.digits(4)
		mob := "7" + g.digit(4, 9) + g.digits(2)
		sub := g.digits(6)
		return g.pickFormat("uk", []string{
			"020 " + l + " " + m, "+44 20 " + l + " " + m, "0" + mob + " " + sub, "+44 " + mob + " " + sub,
			"+44 (0)20 " + l + " " + m, "01632 " + sub, "0" + mob + sub,
		})
	case 2:
		area := g.pick([]string{"30", "89", "40", "221", "69"})
		sub := g.digit(1, 9) + g.digits(6)
		mob := "1" + g.pick([]string{"51", "52", "60", "70", "71", "76"})
		return g.pickFormat("de", []string{
			"0" + area + " " + sub, "+49 " + area + " " + sub, "0" + mob + " " + g.digits(8), "+49 " + mob + " " + g.digits(8),
			"0" + area + "/" + sub, "0" + mob + "-" + g.digits(7), "+49 (0)" + area + " " + sub, "0" + area + sub,
		})
	case 3:
		p := []string{g.digit(1, 9), g.digits(2), g.digits(2), g.digits(2), g.digits(2)}
		return g.pickFormat("fr", []string{
			"0" + p[0] + " " + p[1] + " " + p[2] + " " + p[3] + " " + p[4], "0" + p[0] + "." + p[1] + "." + p[2] + "." + p[3] + "." + p[4],
			"+33 " + p[0] + " " + p[1] + " " + p[2] + " " + p[3] + " " + p[4], "0" + strings.Join(p, ""), "+33" + strings.Join(p, ""),
		})
	case 4:
		a, b := g.digit(6, 9)+g.digits(4), g.digits(5)
		l := g.digits(4)
		return g.pickFormat("in", []string{
			a + " " + b, "+91 " + a + " " + b, "+91-" + a + "-" + b, a + b, "022 " + l + " " + g.digits(4), "+91 22 " + l + " " + g.digits(4), "0" + a + " " + b,
		})
	case 5:
		dd := g.digit(1, 9) + g.digit(1, 9)
		m, f := "9"+g.digits(4), g.digits(4)
		land := g.digit(2, 5) + g.digits(3)
		return g.pickFormat("br", []string{
			"(" + dd + ") " + m + "-" + f, "+55 " + dd + " " + m + "-" + f, "(" + dd + ") " + land + "-" + f, dd + " " + m + "-" + f, dd + m + f, "+55 (" + dd + ") " + m + "-" + f,
		})
	default:
		a, b := g.digits(4), g.digits(4)
		mob := g.pick([]string{"90", "80", "70"})
		return g.pickFormat("jp", []string{
			"03-" + a + "-" + b, "0" + mob + "-" + a + "-" + b, "+81 3-" + a + "-" + b, "+81 " + mob + "-" + a + "-" + b,
			"03" + a + b, "0" + mob + a + b, "0465-" + g.digits(2) + "-" + a,
		})
	}
}

func (g *gen) pickFormat(country string, forms []string) Label {
	k := g.n(len(forms))
	return Label{Kind: Phone, Format: country + "-" + strconv.Itoa(k), Value: forms[k]}
}

// luhnDigit returns the check digit that makes body+digit Luhn-valid.
func luhnDigit(body string) byte {
	sum := 0
	for i := 0; i < len(body); i++ {
		d := int(body[len(body)-1-i] - '0')
		if i%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10)
}

func (g *gen) luhnNumber(prefix string, length int) string {
	body := prefix + g.digits(length-len(prefix)-1)
	return body + string(luhnDigit(body))
}

func group(s string, sizes []int, sep string) string {
	var parts []string
	for _, n := range sizes {
		if len(s) == 0 {
			break
		}
		n = min(n, len(s))
		parts = append(parts, s[:n])
		s = s[n:]
	}
	if len(s) > 0 {
		parts = append(parts, s)
	}
	return strings.Join(parts, sep)
}

func (g *gen) card() Label {
	type brand struct {
		name   string
		prefix func() string
		length int
		groups []int
	}
	brands := []brand{
		{"visa16", func() string { return "4" }, 16, []int{4, 4, 4, 4}},
		{"visa13", func() string { return "4" }, 13, []int{4, 4, 4, 4}},
		{"visa19", func() string { return "4" }, 19, []int{4, 4, 4, 4, 4}},
		{"mastercard", func() string { return "5" + g.digit(1, 5) }, 16, []int{4, 4, 4, 4}},
		{"mastercard2", func() string { return "22" + g.digit(21, 99) }, 16, []int{4, 4, 4, 4}},
		{"amex", func() string { return g.pick([]string{"34", "37"}) }, 15, []int{4, 6, 5}},
		{"discover", func() string { return "6011" }, 16, []int{4, 4, 4, 4}},
		{"jcb", func() string { return "35" + g.digit(28, 89) }, 16, []int{4, 4, 4, 4}},
		{"diners", func() string { return "36" }, 14, []int{4, 6, 4}},
		{"unionpay", func() string { return "62" }, 17 + g.n(3), []int{4, 4, 4, 4, 4}},
	}
	b := brands[g.n(len(brands))]
	num := g.luhnNumber(b.prefix(), b.length)
	switch g.n(3) {
	case 0:
		return Label{Card, b.name + "-bare", num}
	case 1:
		return Label{Card, b.name + "-spaced", group(num, b.groups, " ")}
	default:
		return Label{Card, b.name + "-dashed", group(num, b.groups, "-")}
	}
}

// ibanCountries: country code, length, BBAN alphabet prefix (letters first).
var ibanCountries = []struct {
	cc      string
	length  int
	letters int
}{
	{"DE", 22, 0}, {"GB", 22, 4}, {"FR", 27, 0}, {"ES", 24, 0}, {"IT", 27, 1}, {"NL", 18, 4}, {"BE", 16, 0},
	{"AT", 20, 0}, {"CH", 21, 0}, {"PL", 28, 0}, {"SE", 24, 0}, {"NO", 15, 0}, {"DK", 18, 0}, {"FI", 18, 0},
	{"PT", 25, 0}, {"IE", 22, 4}, {"LU", 20, 0}, {"CZ", 24, 0}, {"HU", 28, 0}, {"RO", 24, 4}, {"BR", 29, 0}, {"SA", 24, 0},
}

// ibanCheck returns the two check digits for cc and bban (ISO 7064 MOD 97-10).
func ibanCheck(cc, bban string) string {
	rem := 0
	for _, c := range bban + cc + "00" {
		if c >= 'A' && c <= 'Z' {
			rem = (rem*100 + int(c-'A'+10)) % 97
		} else {
			rem = (rem*10 + int(c-'0')) % 97
		}
	}
	return fmt.Sprintf("%02d", 98-rem)
}

func (g *gen) iban() Label {
	c := ibanCountries[g.n(len(ibanCountries))]
	bban := g.from("ABCDEFGHIJKLMNOPQRSTUVWXYZ", c.letters) + g.digits(c.length-4-c.letters)
	iban := c.cc + ibanCheck(c.cc, bban) + bban
	if g.n(2) == 0 {
		return Label{IBAN, "compact-" + c.cc, iban}
	}
	return Label{IBAN, "spaced-" + c.cc, group(iban, []int{4, 4, 4, 4, 4, 4, 4, 4}, " ")}
}

func (g *gen) ssn() Label {
	area := 1 + g.n(899)
	if area == 666 {
		area = 665
	}
	s := fmt.Sprintf("%03d", area)
	grp := fmt.Sprintf("%02d", 1+g.n(99))
	ser := fmt.Sprintf("%04d", 1+g.n(9999))
	if g.n(4) == 0 {
		return Label{SSN, "spaced", s + " " + grp + " " + ser}
	}
	return Label{SSN, "dashed", s + "-" + grp + "-" + ser}
}

func (g *gen) ip() Label {
	h := func() string { return strconv.FormatInt(int64(g.n(65536)), 16) }
	switch g.n(8) {
	case 0:
		return Label{IP, "ipv4-private", "192.168." + strconv.Itoa(g.n(256)) + "." + strconv.Itoa(1+g.n(254))}
	case 1:
		return Label{IP, "ipv4-10", "10." + strconv.Itoa(g.n(256)) + "." + strconv.Itoa(g.n(256)) + "." + strconv.Itoa(1+g.n(254))}
	case 2:
		return Label{IP, "ipv4-public", strconv.Itoa(1+g.n(223)) + "." + strconv.Itoa(g.n(256)) + "." + strconv.Itoa(g.n(256)) + "." + strconv.Itoa(1+g.n(254))}
	case 3:
		var p []string
		for range 8 {
			p = append(p, fmt.Sprintf("%04x", g.n(65536)))
		}
		return Label{IP, "ipv6-full", strings.Join(p, ":")}
	case 4:
		return Label{IP, "ipv6-compressed", "2001:db8:" + h() + "::" + h() + ":" + h()}
	case 5:
		return Label{IP, "ipv6-link-local", "fe80::" + h() + ":" + h() + ":" + h() + ":" + h()}
	case 6:
		return Label{IP, "ipv6-mapped", "::ffff:" + strconv.Itoa(1+g.n(223)) + "." + strconv.Itoa(g.n(256)) + "." + strconv.Itoa(g.n(256)) + "." + strconv.Itoa(1+g.n(254))}
	default:
		return Label{IP, "ipv6-short", g.pick([]string{"::1", "2001:db8::" + h(), "2606:4700:4700::" + h()})}
	}
}

func (g *gen) jwt() Label {
	enc := base64.RawURLEncoding
	hdr := enc.EncodeToString([]byte(g.pick([]string{`{"alg":"HS256","typ":"JWT"}`, `{"alg":"RS256","kid":"` + g.from(alnum, 8) + `"}`, `{"typ":"JWT","alg":"ES256"}`})))
	body := enc.EncodeToString(fmt.Appendf(nil, `{"sub":"%s","name":"%s","iat":%d}`, g.digits(10), g.pick([]string{"Jane Doe", "Max Mustermann", "Marie Curie"}), 1700000000+g.n(50000000)))
	sig := g.from(b64url, 43)
	return Label{JWT, "hs256", hdr + "." + body + "." + sig}
}

func (g *gen) secret() Label {
	switch g.n(11) {
	case 0:
		return Label{Secret, "openai-legacy", "sk-" + g.from(alnum, 48)}
	case 1:
		return Label{Secret, "openai-project", "sk-proj-" + g.from(b64url, 64+g.n(80))}
	case 2:
		return Label{Secret, "aws-akia", "AKIA" + g.from(upperNum, 16)}
	case 3:
		return Label{Secret, "aws-asia", "ASIA" + g.from(upperNum, 16)}
	case 4:
		return Label{Secret, "github-classic", g.pick([]string{"ghp_", "gho_", "ghs_", "ghu_"}) + g.from(alnum, 36)}
	case 5:
		return Label{Secret, "github-fine-grained", "github_pat_" + g.from(alnum, 22) + "_" + g.from(alnum, 59)}
	case 6:
		return Label{Secret, "google-api-key", "AIza" + g.from(b64url, 35)}
	case 7:
		return Label{Secret, "slack", g.pick([]string{"xoxb-", "xoxp-"}) + g.digits(12) + "-" + g.digits(13) + "-" + g.from(alnum, 24)}
	case 8:
		return Label{Secret, "openai-svcacct", "sk-svcacct-" + g.from(b64url, 60)}
	default:
		label := g.pick([]string{"RSA PRIVATE KEY", "OPENSSH PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY"})
		var lines []string
		for range 3 + g.n(3) {
			lines = append(lines, g.from(alnum+"+/", 64))
		}
		return Label{Secret, "private-key-block", "-----BEGIN " + label + "-----\n" + strings.Join(lines, "\n") + "\n-----END " + label + "-----"}
	}
}

var lookalikeKinds = []string{
	"date", "time", "datetime", "uuid", "git_sha", "order_number", "ticket_number", "version", "isbn",
	"luhn_invalid", "port", "money", "timestamp", "postal_code", "term_in_word", "pattern_near_miss",
}

func (g *gen) lookalike(kind string) Label {
	var v string
	months := []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
	y, mo, d := 2019+g.n(8), 1+g.n(12), 1+g.n(28)
	hh, mm, ss := g.n(24), g.n(60), g.n(60)
	switch kind {
	case "date":
		v = g.pick([]string{
			fmt.Sprintf("%d-%02d-%02d", y, mo, d), fmt.Sprintf("%02d.%02d.%d", d, mo, y), fmt.Sprintf("%02d/%02d/%d", mo, d, y),
			fmt.Sprintf("%d %s %d", d, months[mo-1], y), fmt.Sprintf("%d/%02d/%02d", y, mo, d),
		})
	case "time":
		v = g.pick([]string{fmt.Sprintf("%02d:%02d", hh, mm), fmt.Sprintf("%02d:%02d:%02d", hh, mm, ss), fmt.Sprintf("%02d:%02d:%02d.%03d", hh, mm, ss, g.n(1000))})
	case "datetime":
		v = g.pick([]string{fmt.Sprintf("%d-%02d-%02dT%02d:%02d:%02dZ", y, mo, d, hh, mm, ss), fmt.Sprintf("%d-%02d-%02d %02d:%02d:%02d", y, mo, d, hh, mm, ss), fmt.Sprintf("%02d.%02d.%d %02d:%02d", d, mo, y, hh, mm)})
	case "uuid":
		u := g.from(hexLower, 32)
		v = u[:8] + "-" + u[8:12] + "-4" + u[13:16] + "-a" + u[17:20] + "-" + u[20:]
		if g.n(3) == 0 {
			v = strings.ToUpper(v)
		}
	case "git_sha":
		v = g.from(hexLower, g.pick2(40, 7+g.n(6)))
	case "order_number":
		v = g.pick([]string{"#A-" + g.digits(5), "ORD-" + strconv.Itoa(y) + "-" + g.digits(7), "order " + g.digit(1, 9) + g.digits(8), "PO-" + g.digits(6), "#" + g.digits(4)})
	case "ticket_number":
		v = g.pick([]string{"JIRA-" + g.digits(4), "INC" + g.digits(7), "TKT-" + g.digits(4), "CASE-" + g.digits(8), "SR-" + g.digits(6)})
	case "version":
		v = g.pick([]string{
			fmt.Sprintf("%d.%d.%d", g.n(20), g.n(30), g.n(100)), fmt.Sprintf("v%d.%d.%d.%d", 1+g.n(15), g.n(10), g.n(30000), g.n(5000)),
			fmt.Sprintf("%d.%d.0-rc.%d", 1+g.n(5), g.n(20), 1+g.n(4)), fmt.Sprintf("Python 3.%d.%d", 8+g.n(6), g.n(10)),
		})
	case "isbn":
		body := "978" + g.digits(9)
		v = g.pick([]string{"978-" + g.digit(0, 9) + "-" + g.digits(2) + "-" + g.digits(6) + "-" + g.digit(0, 9), "ISBN " + body + g.digit(0, 9), "ISBN 0-" + g.digits(3) + "-" + g.digits(5) + "-" + g.digit(0, 9), "ISBN-10: 0" + g.digits(9)})
	case "luhn_invalid":
		length := 13 + g.n(7)
		num := g.luhnNumber(g.digit(3, 6), length)
		last := num[len(num)-1]
		num = num[:len(num)-1] + string('0'+(last-'0'+1+byte(g.n(8)))%10)
		if g.n(2) == 0 && length == 16 {
			num = group(num, []int{4, 4, 4, 4}, " ")
		}
		v = num
	case "port":
		v = g.pick([]string{"port " + g.pick([]string{"8080", "443", "22", "5432", "6379"}), "localhost:" + g.pick([]string{"3000", "8443", "5432", "9090"}), ":" + g.pick([]string{"443", "8080"})})
	case "money":
		v = g.pick([]string{
			"$" + g.digit(1, 999) + "," + g.digits(3) + "." + g.digits(2), "€" + g.digit(1, 999) + "." + g.digits(3) + "," + g.digits(2),
			g.digit(1, 999) + " " + g.digits(3) + ",00 €", "USD " + g.digit(1, 99) + "," + g.digits(3) + ".00", "¥" + g.digit(1, 999) + "," + g.digits(3),
			"£" + g.digit(1, 999) + "." + g.digits(2), "R$ " + g.digit(1, 99) + "." + g.digits(3) + "," + g.digits(2), "₹1," + g.digits(2) + "," + g.digits(3),
		})
	case "timestamp":
		v = g.pick([]string{strconv.Itoa(1600000000 + g.n(200000000)), strconv.Itoa(1600000000+g.n(200000000)) + g.digits(3)})
	case "postal_code":
		v = g.pick([]string{g.digits(5) + "-" + g.digits(4), "SW1A 1AA", g.digit(1, 9) + g.digits(4), "75008 Paris"})
	case "term_in_word":
		t := g.pick(g.terms)
		if i := strings.IndexByte(t, ' '); i > 0 {
			t = t[:i]
		}
		if t == "Project" {
			t = "Nordwind"
		}
		v = t + g.pick([]string{"ish", "er", "s"})
		if g.n(2) == 0 {
			v = "pre" + strings.ToLower(t)
		}
	case "pattern_near_miss":
		v = g.pick([]string{"EMP-" + g.digits(7), "EMP-" + g.digits(5), "XEMP-" + g.digits(6)})
	}
	return Label{Kind: kind, Value: v}
}

func (g *gen) pick2(a, b int) int {
	if g.n(2) == 0 {
		return a
	}
	return b
}
