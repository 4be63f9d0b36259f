package sdk_test

import (
	"testing"

	"github.com/switchyard-dev/switchyard/plugins"
	"github.com/switchyard-dev/switchyard/plugins/native/sdk"
)

func TestPlaceholder(t *testing.T) {
	v := plugins.AcquireVault()
	defer plugins.ReleaseVault(v)
	if got := sdk.Placeholder(nil, v, "EMAIL"); string(got) != "<EMAIL_1>" {
		t.Fatalf("empty vault: %q", got)
	}
	v.Add([]byte("<EMAIL_1>"), []byte("a@example.com"))
	v.Add([]byte("<EMAIL_2>"), []byte("b@example.com"))
	v.Add([]byte("<PHONE_1>"), []byte("+1 555"))
	if got := sdk.Placeholder([]byte("x:"), v, "EMAIL"); string(got) != "x:<EMAIL_3>" {
		t.Fatalf("after two taken: %q", got)
	}
	if got := sdk.Placeholder(nil, v, "CARD"); string(got) != "<CARD_1>" {
		t.Fatalf("other label: %q", got)
	}
}
