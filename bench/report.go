package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Machine describes where a run happened; absolute numbers mean little without it.
type Machine struct {
	CPU       string
	Cores     int
	GoVersion string
	Kernel    string
	MemTotal  string
	LoadAvg   string // at the start of the run: the machine is shared
}

// DescribeMachine reads /proc for the CPU model, memory and load.
func DescribeMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version(), CPU: "unknown CPU"}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "MemTotal:") {
				var kb int64
				fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "MemTotal:")), "%d", &kb)
				m.MemTotal = formatBytes(kb * 1024)
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	return m
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

func formatMs(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms >= 100:
		return fmt.Sprintf("%.0f ms", ms)
	case ms >= 10:
		return fmt.Sprintf("%.1f ms", ms)
	default:
		return fmt.Sprintf("%.2f ms", ms)
	}
}

func formatBytes(n int64) string {
	if n <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}

func formatRPS(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	if v < 100 {
		s = fmt.Sprintf("%.1f", v)
	}
	// thousands separators
	intPart, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if frac != "" {
		b.WriteString("." + frac)
	}
	return b.String()
}

// Table renders the results as a Markdown table; notes become numbered footnotes.
func (r *Report) Table() string {
	var b strings.Builder
	var notes []string
	b.WriteString("| endpoint | database | requests/s | × baseline | p50 | p90 | p99 | errors | peak RSS |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---|---:|\n")
	for _, row := range r.Rows {
		name := row.Endpoint
		if row.Note != "" {
			i := slices.Index(notes, row.Note)
			if i < 0 {
				notes = append(notes, row.Note)
				i = len(notes) - 1
			}
			name += fmt.Sprintf(" [%d]", i+1)
		}
		if row.Skipped {
			fmt.Fprintf(&b, "| %s | %s | – | – | – | – | – | – | – |\n", name, row.Database)
			continue
		}
		res := row.Result
		ratio := "–"
		if row.BaselineRPS > 0 {
			ratio = fmt.Sprintf("%.2f", row.Ratio())
		}
		if lo, hi := row.RatioRange(); row.BaselineRPS > 0 && hi > 0 && len(row.PairRatios) > 1 {
			ratio += fmt.Sprintf(" (%.2f–%.2f)", lo, hi)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", name, row.Database, formatRPS(res.RPS()), ratio,
			formatMs(res.Latency.Quantile(0.5)), formatMs(res.Latency.Quantile(0.9)), formatMs(res.Latency.Quantile(0.99)),
			res.ErrorSummary(), formatBytes(res.PeakRSS))
	}
	if len(notes) > 0 {
		b.WriteString("\n")
		for i, n := range notes {
			fmt.Fprintf(&b, "[%d] %s  \n", i+1, n)
		}
	}
	return b.String()
}

// Target is one of the issues' goals, checked against the run.
type Target struct {
	Goal     string
	Measured string
	Met      bool
	Known    bool // false when the scenario did not run
}

// Targets checks the goals of issues 3 and 8 for every database measured.
func (r *Report) Targets() []Target {
	var out []Target
	find := func(sc, db string) (Row, bool) {
		for _, row := range r.Rows {
			if row.Scenario == sc && row.Database == db && !row.Skipped {
				return row, true
			}
		}
		return Row{}, false
	}
	var dbs []string
	for _, row := range r.Rows {
		if row.Scenario == ScenarioBaseline {
			dbs = append(dbs, row.Database)
		}
	}
	for _, db := range dbs {
		if row, ok := find(ScenarioClientCredentials, db); ok {
			out = append(out, Target{Goal: fmt.Sprintf("client_credentials ≥ 0.40 × baseline (%s)", db),
				Measured: ratioText(row.Ratio(), 0.4), Met: row.Ratio() >= 0.4, Known: true})
			p99 := row.Result.Latency.Quantile(0.99)
			measured := formatMs(p99)
			if row.BaselineP99 > 0 {
				measured += fmt.Sprintf(" (baseline: %s)", formatMs(row.BaselineP99))
			}
			out = append(out, Target{Goal: fmt.Sprintf("client_credentials p99 < 20 ms (%s)", db),
				Measured: measured, Met: p99 < 20*time.Millisecond, Known: true})
		}
		if row, ok := find(ScenarioCCLog, db); ok {
			out = append(out, Target{Goal: "client_credentials, request log at info ≥ 0.45 × baseline (wrk)",
				Measured: ratioText(row.Ratio(), 0.45), Met: row.Ratio() >= 0.45, Known: true})
		}
		if row, ok := find(ScenarioIntrospect, db); ok {
			out = append(out, Target{Goal: fmt.Sprintf("introspection ≥ 0.50 × baseline (%s)", db),
				Measured: ratioText(row.Ratio(), 0.5), Met: row.Ratio() >= 0.5, Known: true})
		}
		want := 3000.0
		if strings.HasPrefix(db, "PostgreSQL") {
			want = 2000
		}
		for _, sc := range []struct{ scenario, name string }{{ScenarioRefresh, "refresh"}, {ScenarioAuthCode, "code exchange"}} {
			if row, ok := find(sc.scenario, db); ok {
				out = append(out, Target{Goal: fmt.Sprintf("%s ≥ %s/s (%s)", sc.name, formatRPS(want), db),
					Measured: fmt.Sprintf("%s/s (%.2f ×)", formatRPS(row.Result.RPS()), row.Ratio()), Met: row.Result.RPS() >= want && row.Result.ErrorCount() == 0, Known: true})
			}
		}
		out = append(out, r.tailAndErrorTargets(db)...)
		out = append(out, r.rssTargets(db)...)
		if strings.HasSuffix(db, ", prefilled") {
			out = append(out, r.prefillTarget(strings.TrimSuffix(db, ", prefilled"))...)
		}
	}
	return out
}

// prefillTarget checks "every rate within 15 % of the empty database" for db: each
// scenario measured on both, compared by its ratio to the baseline slices beside it
// (which takes the shared machine's drift between the two blocks out; the password
// grant's in longer slices, its ratio not shown in the table). Faster is fine; the
// slowest comparison is named.
func (r *Report) prefillTarget(db string) []Target {
	find := func(sc, db string) (Row, bool) {
		for _, row := range r.Rows {
			if row.Scenario == sc && row.Database == db && !row.Skipped {
				return row, true
			}
		}
		return Row{}, false
	}
	worst, at := math.Inf(1), ""
	var slow []string
	for _, sc := range AllScenarios[1:] {
		empty, ok1 := find(sc, db)
		full, ok2 := find(sc, PrefilledName(db))
		if !ok1 || !ok2 {
			continue
		}
		var rel float64
		switch {
		case len(empty.PairRatios) > 0 && len(full.PairRatios) > 0 && empty.Ratio() > 0:
			rel = full.Ratio() / empty.Ratio()
		case empty.Result.RPS() > 0:
			rel = full.Result.RPS() / empty.Result.RPS()
		default:
			continue
		}
		if rel < worst {
			worst, at = rel, sc
		}
		if rel < 0.85 {
			slow = append(slow, fmt.Sprintf("%s %.0f %%", sc, 100*rel))
		}
	}
	if at == "" {
		return nil
	}
	t := Target{Goal: fmt.Sprintf("every rate prefilled within 15 %% of empty (%s)", db), Known: true, Met: len(slow) == 0,
		Measured: fmt.Sprintf("slowest: %s at %.0f %%", at, 100*worst)}
	if len(slow) > 0 {
		t.Measured = strings.Join(slow, ", ")
	}
	return []Target{t}
}

// rssTargets checks issue 8's "RSS ≤ 40 MiB idle and ≤ 120 MiB under 64-connection
// load" for db: the server's RSS at rest, and the highest peak of any scenario (the
// password grant's, at fewer connections, included), named.
func (r *Report) rssTargets(db string) []Target {
	var out []Target
	for _, idle := range r.IdleRSS {
		if idle.Database == db && idle.Bytes > 0 {
			out = append(out, Target{Goal: fmt.Sprintf("RSS ≤ 40 MiB idle (%s)", db),
				Measured: formatBytes(idle.Bytes), Met: idle.Bytes <= 40<<20, Known: true})
		}
	}
	var peak int64
	var at string
	for _, row := range r.Rows {
		if row.Database == db && !row.Skipped && row.Scenario != ScenarioBaseline && row.Result.PeakRSS > peak {
			peak, at = row.Result.PeakRSS, row.Scenario
		}
	}
	if peak > 0 {
		out = append(out, Target{Goal: fmt.Sprintf("peak RSS ≤ 120 MiB under load (%s)", db),
			Measured: fmt.Sprintf("%s (%s)", formatBytes(peak), at), Met: peak <= 120<<20, Known: true})
	}
	return out
}

// tailAndErrorTargets checks issue 8's "p99 ≤ 20 ms at 64 connections for every
// endpoint but password" and "zero errors" over db's rows, naming what missed.
func (r *Report) tailAndErrorTargets(db string) []Target {
	var slow, failed []string
	rows := 0
	for _, row := range r.Rows {
		if row.Database != db || row.Skipped || row.Scenario == ScenarioBaseline {
			continue
		}
		rows++
		if n := row.Result.ErrorCount(); n > 0 {
			failed = append(failed, fmt.Sprintf("%s %s", row.Scenario, row.Result.ErrorSummary()))
		}
		if row.Scenario == ScenarioPassword {
			continue
		}
		if p99 := row.Result.Latency.Quantile(0.99); p99 > 20*time.Millisecond {
			slow = append(slow, fmt.Sprintf("%s %s", row.Scenario, formatMs(p99)))
		}
	}
	if rows == 0 {
		return nil
	}
	p99 := Target{Goal: fmt.Sprintf("p99 ≤ 20 ms, every endpoint but password (%s)", db), Measured: "all", Met: true, Known: true}
	if len(slow) > 0 {
		p99.Measured, p99.Met = strings.Join(slow, ", "), false
	}
	errs := Target{Goal: fmt.Sprintf("zero errors (%s)", db), Measured: "0", Met: true, Known: true}
	if len(failed) > 0 {
		errs.Measured, errs.Met = strings.Join(failed, ", "), false
	}
	return []Target{p99, errs}
}

// Markdown renders the generated part of BENCHMARKS.md.
func (r *Report) Markdown(svgPath, micro string) string {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "Measured %s on **%s** (%d cores", r.Started.Format("2006-01-02 15:04 MST"), m.CPU, m.Cores)
	if m.MemTotal != "" {
		fmt.Fprintf(&b, ", %s", m.MemTotal)
	}
	fmt.Fprintf(&b, "), %s, %s; load average at the start: %s. ", m.Kernel, m.GoVersion, m.LoadAvg)
	fmt.Fprintf(&b, "Each scenario: %d keep-alive connections for %v after a %v warm-up; the load generator shares the cores with the server.\n\n",
		r.Options.Concurrency, r.Options.Duration, r.Options.Warmup)
	if r.Command != "" {
		fmt.Fprintf(&b, "Reproduce with `make bench`, which ran:\n\n```\n%s\n```\n\n", r.Command)
	}
	b.WriteString(r.Table())
	b.WriteString("\n")
	if ts := r.Targets(); len(ts) > 0 {
		b.WriteString("Targets of issues 3, 8 and 19 (ratios to the baseline slices interleaved with each scenario; the refresh and code-exchange targets are absolute rates and the p99 target absolute times, so they depend on how busy the shared machine was):\n\n")
		b.WriteString("| target | measured | |\n|---|---:|---|\n")
		for _, t := range ts {
			verdict := "**missed**"
			if t.Met {
				verdict = "met"
			}
			fmt.Fprintf(&b, "| %s | %s | %s |\n", t.Goal, t.Measured, verdict)
		}
		b.WriteString("\n")
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	if len(r.Notes) > 0 {
		b.WriteString("\n")
	}
	if svgPath != "" {
		fmt.Fprintf(&b, "![requests per second per endpoint, next to the bare Echo baseline](%s)\n\n", svgPath)
	}
	if micro != "" {
		b.WriteString("<details><summary>Go micro-benchmarks (<code>go test -run XXX -bench . -benchmem ./...</code>, same run)</summary>\n\n```\n")
		b.WriteString(strings.TrimRight(micro, "\n"))
		b.WriteString("\n```\n\n</details>\n")
	}
	return b.String()
}

// Markers delimit the generated part of BENCHMARKS.md; the rest is kept as written.
const (
	BeginMarker = "<!-- bench:begin — generated by `make bench` (cmd/loadgen); text outside the markers is kept -->"
	EndMarker   = "<!-- bench:end -->"
)

// UpdateFile puts generated between the markers of the file at path, creating the file
// (with a title) or the markers (at the end) when missing.
func UpdateFile(path, generated string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	block := BeginMarker + "\n" + generated + EndMarker + "\n"
	s := string(old)
	i := strings.Index(s, "<!-- bench:begin")
	j := strings.Index(s, EndMarker)
	switch {
	case len(old) == 0:
		s = "# Benchmarks\n\n" + block
	case i >= 0 && j > i:
		s = s[:i] + block + strings.TrimPrefix(s[j+len(EndMarker):], "\n")
	default:
		s = strings.TrimRight(s, "\n") + "\n\n" + block
	}
	return os.WriteFile(path, []byte(s), 0o644)
}

// MicroBenchmarks keeps the informative lines of `go test -bench` output.
func MicroBenchmarks(r io.Reader) string {
	var b strings.Builder
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "Benchmark") || strings.HasPrefix(line, "pkg:") || strings.HasPrefix(line, "FAIL") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// SVG draws throughput per endpoint as horizontal bars, each database's baseline
// first, on one linear scale; every bar is labelled with its rate and ratio.
func (r *Report) SVG() []byte {
	const (
		width   = 980
		labelW  = 420
		barMax  = 380
		rowH    = 24
		barH    = 16
		top     = 58
		groupH  = 30
		bottomH = 34
	)
	maxRPS := 0.0
	rows := 0
	var groups []string
	for _, row := range r.Rows {
		if row.Skipped {
			continue
		}
		maxRPS = math.Max(maxRPS, row.Result.RPS())
		rows++
		if len(groups) == 0 || groups[len(groups)-1] != row.Database {
			groups = append(groups, row.Database)
		}
	}
	if maxRPS <= 0 {
		maxRPS = 1
	}
	height := top + rows*rowH + len(groups)*groupH + bottomH
	var b bytes.Buffer
	esc := html.EscapeString
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="13">`+"\n",
		width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="16" y="24" font-size="16" font-weight="600" fill="#111">Gatehouse throughput per endpoint (successful requests/s, %d connections)</text>`+"\n", r.Options.Concurrency)
	fmt.Fprintf(&b, `<text x="16" y="44" fill="#555">%s · %s, %d cores · %s · each ratio is to the bare Echo baseline slices interleaved with that row</text>`+"\n",
		esc(r.Started.Format("2006-01-02")), esc(r.Machine.CPU), r.Machine.Cores, esc(r.Machine.GoVersion))
	colors := map[string]string{"SQLite": "#2563eb", "PostgreSQL": "#7c3aed", LogDatabase: "#0d9488",
		PrefilledName("SQLite"): "#60a5fa", PrefilledName("PostgreSQL"): "#a78bfa"}
	y := top
	db := ""
	for _, row := range r.Rows {
		if row.Skipped {
			continue
		}
		if row.Database != db {
			db = row.Database
			fmt.Fprintf(&b, `<text x="16" y="%d" font-size="14" font-weight="600" fill="#111">%s</text>`+"\n", y+20, esc(db))
			fmt.Fprintf(&b, `<line x1="16" y1="%d" x2="%d" y2="%d" stroke="#ddd"/>`+"\n", y+26, width-16, y+26)
			y += groupH
		}
		rps := row.Result.RPS()
		w := int(math.Round(rps / maxRPS * barMax))
		if w < 1 && rps > 0 {
			w = 1
		}
		fill := colors[row.Database]
		if fill == "" {
			fill = "#0d9488"
		}
		label := row.Endpoint
		if row.Scenario == ScenarioBaseline {
			fill = "#9ca3af"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" fill="#222">%s</text>`+"\n", labelW-8, y+barH-3, esc(label))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" rx="2" fill="%s"><title>%s: %s req/s</title></rect>`+"\n",
			labelW, y, w, barH, fill, esc(label), formatRPS(rps))
		value := formatRPS(rps) + "/s"
		if row.Scenario != ScenarioBaseline && row.BaselineRPS > 0 {
			value += fmt.Sprintf(" (%.2f×)", row.Ratio())
		}
		if n := row.Result.ErrorCount(); n > 0 {
			value += fmt.Sprintf(" · %d errors", n)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#222">%s</text>`+"\n", labelW+w+6, y+barH-3, esc(value))
		y += rowH
	}
	fmt.Fprintf(&b, `<text x="16" y="%d" fill="#777" font-size="11">Generated by cmd/loadgen (make bench). Same scale for every bar; the machine is shared, so compare ratios, not absolute rates.</text>`+"\n", y+22)
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// ratioText is a ratio as a target shows it: two decimals, or three when two would
// round a miss up to the target itself (0.497 shown as 0.50 beside "missed").
func ratioText(r, want float64) string {
	if r < want && fmt.Sprintf("%.2f", r) == fmt.Sprintf("%.2f", want) {
		return fmt.Sprintf("%.3f ×", r)
	}
	return fmt.Sprintf("%.2f ×", r)
}
