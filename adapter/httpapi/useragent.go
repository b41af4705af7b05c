package httpapi

import (
	"strings"
	"unicode/utf8"
)

// describeUserAgent names the browser and system of a User-Agent header the way a
// person would ("Firefox on Windows"), for the account page's session list; a header
// it does not recognize is shown as it is, cut at 60 characters. Order matters:
// Edge and Opera also say Chrome, Chrome also says Safari, Android also says Linux.
func describeUserAgent(ua string) string {
	if ua == "" {
		return "Unknown browser"
	}
	browser := firstMatch(ua, [][2]string{{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"},
		{"Chrome/", "Chrome"}, {"Chromium/", "Chromium"}, {"Safari/", "Safari"}, {"curl/", "curl"}})
	system := firstMatch(ua, [][2]string{{"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Android", "Android"},
		{"Windows", "Windows"}, {"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"}})
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "":
		return browser
	case system != "":
		return "A browser on " + system
	}
	if utf8.RuneCountInString(ua) > 60 {
		return string([]rune(ua)[:60]) + "…"
	}
	return ua
}

func firstMatch(s string, pairs [][2]string) string {
	for _, p := range pairs {
		if strings.Contains(s, p[0]) {
			return p[1]
		}
	}
	return ""
}
