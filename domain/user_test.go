package domain

import (
	"strings"
	"testing"
)

// TestValidateUsername: characters, length, and one writing system (SECURITY S49;
// audit finding 7 of issue 18). Usernames arrive in canonical (PRECIS) form.
func TestValidateUsername(t *testing.T) {
	for _, tc := range []struct {
		name, username string
		wantErr        string // "" for valid
	}{
		{"ascii", "alice", ""},
		{"ascii with digits and marks", "alice.smith-2_x@example+tag", ""},
		{"latin with accents", "zoë.müller", ""},
		{"all cyrillic", "алиса", ""},
		{"cyrillic with digits", "алиса2000", ""},
		{"all greek", "αλίκη", ""},
		{"japanese kanji, hiragana, katakana", "山田たろうカナ", ""},
		{"japanese prolonged sound mark", "ゆーざー", ""},
		{"korean with hanja", "김民수", ""},
		{"chinese", "张伟", ""},
		{"hebrew", "אליס", ""},
		{"latin with one cyrillic a", "\u0430lice", "mixes Cyrillic and Latin"},
		{"latin with one cyrillic o at the end", "b\u043eb", "mixes Latin and Cyrillic"},
		{"latin with greek omicron", "b\u03bfb", "mixes Latin and Greek"},
		{"latin and kanji", "taro山田", "mixes Latin and Han"},
		{"hangul and hiragana", "김たろう", "mixes Hangul and Hiragana"},
		{"devanagari digit in a latin name", "bob\u0966", "mixes Latin and Devanagari"},
		{"empty", "", "1 to 64"},
		{"65 characters", strings.Repeat("a", 65), "1 to 64"},
		{"64 characters", strings.Repeat("я", 64), ""},
		{"cyrillic that reads as latin", "\u0441\u043e\u0441\u043e", "reads as a name in Latin letters"},
		{"cyrillic that reads as latin, with digits", "\u0430\u0440\u0435-2", "reads as a name in Latin letters"},
		{"greek that reads as latin", "\u03bf\u03bd\u03bf", "reads as a name in Latin letters"},
		{"cyrillic with one letter unlike latin", "\u0441\u0430\u0448\u0430", ""},
		{"digits only", "2000", ""},
		{"space", "al ice", "only letters"},
		{"symbol", "alice!", "only letters"},
	} {
		err := ValidateUsername(tc.username)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s (%q): %v", tc.name, tc.username, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s (%q): err = %v, want %q", tc.name, tc.username, err, tc.wantErr)
		}
	}
}
