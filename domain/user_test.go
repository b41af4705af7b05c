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
		{"a user id's form", "f53c948b-0a41-4f06-9d7c-f819c76e1896", "form of a user id"},
		{"a user id's form, upper case", "F53C948B-0A41-4F06-9D7C-F819C76E1896", "form of a user id"},
		{"a uuid of another version", "00000000-0000-0000-0000-000000000000", "form of a user id"},
		{"hexadecimal without dashes", "f53c948b0a414f069d7cf819c76e1896", ""},
		{"a dash out of place", "f53c948b0-a41-4f06-9d7c-f819c76e1896", ""},
		{"not hexadecimal", "g53c948b-0a41-4f06-9d7c-f819c76e1896", ""},
		{"one character longer", "f53c948b-0a41-4f06-9d7c-f819c76e18961", ""},
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
