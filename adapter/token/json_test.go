package token

import (
	"encoding/json"
	"testing"
)

func checkAppendString(t *testing.T, s string) {
	out := appendString(nil, s)
	var got string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("appendString(%q) = %s: not JSON: %v", s, out, err)
	}
	std, _ := json.Marshal(s)
	var want string
	json.Unmarshal(std, &want)
	if got != want {
		t.Fatalf("appendString(%q) decodes to %q, encoding/json gives %q", s, got, want)
	}
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "plain", `"`, `\`, "\x00\x1f\x7f", "\n\r\t\b\f", "é✓😀", "\u2028\u2029",
		"bad \xff\xfe utf8", "\xe2\x82", "</script>&"} {
		checkAppendString(t, s)
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("a\"b\\c\x00\u2028\xff")
	f.Fuzz(checkAppendString)
}
