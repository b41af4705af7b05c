package e2e

import (
	"strings"
	"testing"
)

// TestMail_BadSettingsStopStartUp: a mail setting that cannot work stops serve with
// exit 2 and one line naming the variable, before any mail could be lost; the line
// never repeats the SMTP password.
func TestMail_BadSettingsStopStartUp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ variable, value, mention string }{
		{"GATEHOUSE_SMTP_URL", "http://mx.example.com", "smtp://"},
		{"GATEHOUSE_SMTP_URL", "smtp://gatehouse:hunter2-secret@mx.example.com:99999", "port"},
		{"GATEHOUSE_SMTP_URL", "smtp://gatehouse:hunter2-secret@mx.example.com/inbox", "path"},
		{"GATEHOUSE_MAIL_FROM", "nobody", "one mail address"},
		{"GATEHOUSE_MAIL_FROM", "a@example.com, b@example.com", "one mail address"},
	} {
		out, errOut, code := runCLI(t, cliEnv(t, map[string]string{tc.variable: tc.value}), "", "serve")
		wantUsage(t, tc.variable+"="+tc.value, out, errOut, code, tc.variable, tc.mention)
		if strings.Contains(errOut, "hunter2") {
			t.Errorf("%s: the error repeats the SMTP password: %q", tc.variable, errOut)
		}
	}
}
