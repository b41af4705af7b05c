package identifier

import "testing"

func TestCanonicalUsername(t *testing.T) {
	r := NewRules()
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"alice", "alice", true},
		{"Alice", "alice", true},
		{"  alice ", "alice", true},
		{"ａｌｉｃｅ", "alice", true}, // full-width: the same account as alice
		{"ＡＬＩＣＥ", "alice", true},
		{"ｱﾘｽ", "アリス", true},               // half-width katakana
		{"Zoe\u0308", "zoë", true},         // composed (NFC)
		{"\u0430lice", "\u0430lice", true}, // a Cyrillic а stays itself; domain.ValidateUsername refuses the mix
		{"АЛИСА", "алиса", true},
		{"alice.smith_2-x@example+tag", "alice.smith_2-x@example+tag", true},
		{"al ice", "", false},
		{"alice\u200b", "", false}, // zero-width space
		{"alice\x00", "", false},
		{"\u202eecila", "", false}, // a bidi override
		{"a\u05d0", "", false},     // left-to-right then right-to-left: the bidi rule
	} {
		got, err := r.CanonicalUsername(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("CanonicalUsername(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestCanonicalEmail(t *testing.T) {
	r := NewRules()
	for in, want := range map[string]string{
		"alice@example.com":   "alice@example.com",
		" Alice@Example.COM ": "alice@example.com",
		"ａｌｉｃｅ＠ｅｘａｍｐｌｅ．ｃｏｍ":            "alice@example.com",
		"zoe\u0308@example.com":        "zoë@example.com",
		"":                             "",
		"bücher@xn--bcher-kva.example": "bücher@xn--bcher-kva.example", // no IDNA conversion
		"BÜCHER@bücher.example":        "bücher@bücher.example",
	} {
		if got := r.CanonicalEmail(in); got != want {
			t.Errorf("CanonicalEmail(%q) = %q, want %q", in, got, want)
		}
	}
}
