package responses

import "testing"

func TestForceStore(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"model":"m","store":false,"input":"hi"}`, `{"model":"m","store":true,"input":"hi"}`},
		{`{"input":[{"store":false}], "store" : false }`, `{"input":[{"store":false}], "store" : true }`},
		{`{"metadata":{"k":"\"store\":false"},"store":false}`, `{"metadata":{"k":"\"store\":false"},"store":true}`},
	} {
		got, changed := ForceStore(nil, []byte(c.in))
		if !changed || string(got) != c.want {
			t.Errorf("ForceStore(%s) = %s, %v; want %s", c.in, got, changed, c.want)
		}
	}
	for _, in := range []string{`{"store":true}`, `{"input":[{"store":false}]}`, `{}`, `[]`, ``} {
		if got, changed := ForceStore(nil, []byte(in)); changed || got != nil {
			t.Errorf("ForceStore(%s) changed it: %s", in, got)
		}
	}
}
