package e2e

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestREADME_WalkthroughFollowable: the README's shell examples can be followed
// literally, top to bottom, on any system:
//   - no example disables a user that a later example makes an administrator (the
//     console then answers "This account is disabled"), unless it was enabled again;
//   - no command opens a URL with macOS's `open` (the README says to open it in a
//     browser instead).
func TestREADME_WalkthroughFollowable(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var (
		apiUser      = regexp.MustCompile(`/admin/api/v1/users/([A-Za-z0-9._-]+)`)
		cliUpdate    = regexp.MustCompile(`\busers update ([A-Za-z0-9._-]+)`)
		makesAdmin   = regexp.MustCompile(`--add-group[ =]admin\b`)
		disables     = regexp.MustCompile(`"disabled":\s*true|--disabled(=true)?\b(?:[^=]|$)`)
		enables      = regexp.MustCompile(`"disabled":\s*false|--disabled=false`)
		openCommand  = regexp.MustCompile(`^\s*open\s+["']?https?://`)
		disabledLine = map[string]int{} // user → README line that disabled them
	)
	inShell := false
	var command strings.Builder // a command with its continuation lines
	commandLine := 0
	handle := func(cmd string, line int) {
		if openCommand.MatchString(cmd) {
			t.Errorf("README.md:%d: %q opens a URL with macOS's open; say to open it in a browser", line, cmd)
		}
		var user string
		if m := apiUser.FindStringSubmatch(cmd); m != nil {
			user = m[1]
		} else if m := cliUpdate.FindStringSubmatch(cmd); m != nil {
			user = m[1]
		}
		if user == "" {
			return
		}
		switch {
		case enables.MatchString(cmd):
			delete(disabledLine, user)
		case disables.MatchString(cmd):
			disabledLine[user] = line
		}
		if at, ok := disabledLine[user]; ok && makesAdmin.MatchString(cmd) && !strings.Contains(cmd, "--server") {
			t.Errorf("README.md:%d makes %s an administrator for the console, but README.md:%d disabled %s: "+
				"signing in says the account is disabled", line, user, at, user)
		}
	}
	for i, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "```") {
			inShell = !inShell && (trimmed == "```sh" || trimmed == "```bash" || trimmed == "```shell")
			continue
		}
		if !inShell || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if command.Len() == 0 {
			commandLine = i + 1
		}
		command.WriteString(strings.TrimSuffix(trimmed, `\`) + " ")
		if strings.HasSuffix(trimmed, `\`) {
			continue
		}
		handle(command.String(), commandLine)
		command.Reset()
	}
}
