package admin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"
	"gopkg.in/yaml.v3"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/fingerprint/replay"
)

func jsonUnmarshal(b []byte, v any) error {
	if len(b) == 0 {
		return errors.New("empty")
	}
	return json.Unmarshal(b, v)
}

// Overview.

type stat struct {
	Name  string
	Value int64
}

type overviewPage struct {
	Hour, Day, Month []stat
	Charts           []chart
	Vendors          []stat
	Decisions        []stat
	Config           string
}

func (c *Console) overview(fc *fiber.Ctx) error {
	now := c.opts.Now().UTC()
	if c.opts.Counter != nil {
		c.opts.Counter.Flush(fc.UserContext()) // show what happened a second ago
	}
	from := now.Truncate(time.Hour).Add(-30 * 24 * time.Hour)
	hours, err := c.svc.Store.CountsBetween(fc.UserContext(), from, now)
	if err != nil {
		return err
	}
	sum := func(since time.Time) map[string]int64 {
		out := map[string]int64{}
		for h, m := range hours {
			if !h.Before(since.Truncate(time.Hour)) {
				for k, v := range m {
					out[k] += v
				}
			}
		}
		return out
	}
	headline := func(m map[string]int64) []stat {
		return []stat{{"Links issued", m[cIssued]},
			{"Consumed by cookie", m[cConsumed+"cookie"]}, {"Consumed by click", m[cConsumed+"click"]},
			{"Consumed by code", m[cConsumed+"code"]}, {"Expired unused", m[cExpired]},
			{"Scanners turned away", m[cBlocked]}, {"Locked", m[cLocked]},
			{"Mail sent", m[cMailSent]}, {"Mail failed", m[cMailFailed]}}
	}
	month := sum(from)
	p := overviewPage{Hour: headline(sum(now)), Day: headline(sum(now.Add(-23 * time.Hour))),
		Month: headline(month), Config: c.opts.Engine.Hash()}
	for k, v := range month {
		if vendor, ok := strings.CutPrefix(k, cScanner); ok {
			p.Vendors = append(p.Vendors, stat{vendor, v})
		}
		if d, ok := strings.CutPrefix(k, cDecision); ok {
			p.Decisions = append(p.Decisions, stat{d, v})
		}
	}
	byValue := func(s []stat) {
		sort.Slice(s, func(i, j int) bool {
			if s[i].Value != s[j].Value {
				return s[i].Value > s[j].Value
			}
			return s[i].Name < s[j].Name
		})
	}
	byValue(p.Vendors)
	byValue(p.Decisions)
	series := []string{cIssued, "consumed", cBlocked, cExpired}
	p.Charts = []chart{
		barChart("Last 24 hours, by hour", hourly(hours, now, 24, series), series),
		barChart("Last 30 days, by day", daily(hours, now, 30, series), series),
	}
	return c.render(fc, http.StatusOK, "overview.html", p)
}

// Links.

type linkRow struct {
	ID, Email, State, Purpose string
	Created, Expires          time.Time
}

type linksPage struct {
	Query   string
	Rows    []linkRow
	More    bool
	Message string
	// Cut: the listing or search stopped at its limit of links read.
	Cut     bool
	Scanned int
}

const maxLinkRows = 50

// DefaultSearchLimit is how many stored links one listing or search by
// address reads at most (Options.SearchLimit).
const DefaultSearchLimit = 20000

func (c *Console) links(fc *fiber.Ctx) error {
	q := strings.TrimSpace(utils.CopyString(fc.Query("q")))
	if len(q) > 254 {
		q = q[:254]
	}
	p := linksPage{Query: q}
	now := c.opts.Now()
	row := func(l *linkguard.Link) linkRow {
		return linkRow{ID: l.ID, Email: l.Email, State: string(l.StateAt(now)), Purpose: string(l.Purpose.OrDefault()),
			Created: l.CreatedAt, Expires: l.ExpiresAt}
	}
	newestFirst := func() {
		sort.Slice(p.Rows, func(i, j int) bool { return p.Rows[i].ID > p.Rows[j].ID })
	}
	if linkguard.ValidID(q) {
		l, err := c.svc.Store.LinkByID(fc.UserContext(), q)
		if err == nil {
			p.Rows = append(p.Rows, row(l))
		} else if !errors.Is(err, linkguard.ErrNotFound) {
			return err
		}
	} else {
		// The newest links, or those whose address holds q: the store has
		// no index by address, so this reads links, at most SearchLimit of
		// them, and keeps only the newest matches.
		needle := strings.ToLower(q)
		matched := 0
		err := c.svc.Store.ScanLinks(fc.UserContext(), func(l *linkguard.Link) error {
			if p.Scanned >= c.opts.SearchLimit {
				p.Cut = true
				return errStop
			}
			p.Scanned++
			if needle != "" && !strings.Contains(strings.ToLower(l.Email), needle) {
				return nil
			}
			matched++
			p.Rows = append(p.Rows, row(l))
			if len(p.Rows) >= 4*maxLinkRows {
				newestFirst()
				p.Rows = p.Rows[:maxLinkRows]
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			return err
		}
		p.More = matched > maxLinkRows
	}
	newestFirst()
	if len(p.Rows) > maxLinkRows {
		p.Rows = p.Rows[:maxLinkRows]
	}
	switch {
	case p.Cut:
		p.Message = fmt.Sprintf("The search stopped after reading %d links, its limit, and more are stored: "+
			"links it did not read are missing here. A link id finds any link.", c.opts.SearchLimit)
	case len(p.Rows) == 0:
		p.Message = "No link matches."
	}
	return c.render(fc, http.StatusOK, "links.html", p)
}

type signalRow struct {
	fingerprint.Contribution
	Automation bool
}

type visitRow struct {
	linkguard.Visit
	Signals []signalRow
}

type linkPage struct {
	Link     *linkguard.Link
	State    string
	Visits   []visitRow
	Pending  bool
	Flash    string
	Consumed *fingerprint.Verdict
}

func (c *Console) link(fc *fiber.Ctx) error {
	info, err := c.svc.Get(fc.UserContext(), utils.CopyString(fc.Params("id")))
	var le *linkguard.Error
	if errors.As(err, &le) && le.Kind == linkguard.KindNotFound {
		return c.fail(fc, http.StatusNotFound, "No link has that id (it may have passed its retention).")
	}
	if err != nil {
		return err
	}
	p := linkPage{Link: info.Link, State: string(info.State), Pending: info.State == linkguard.Pending,
		Consumed: info.Link.Verdict}
	if fc.Query("revoked") == "1" {
		p.Flash = "The link is revoked."
	}
	for _, v := range info.Visits {
		r := visitRow{Visit: v}
		if v.Verdict != nil {
			for _, s := range v.Verdict.Signals {
				r.Signals = append(r.Signals, signalRow{Contribution: s, Automation: s.Axis == fingerprint.AxisAutomation})
			}
			sort.SliceStable(r.Signals, func(i, j int) bool { return r.Signals[i].Automation && !r.Signals[j].Automation })
		}
		p.Visits = append(p.Visits, r)
	}
	return c.render(fc, http.StatusOK, "link.html", p)
}

func (c *Console) revoke(fc *fiber.Ctx) error {
	id := utils.CopyString(fc.Params("id"))
	if err := c.svc.Revoke(fc.UserContext(), id, linkguard.RevokeConsole); err != nil {
		var le *linkguard.Error
		if errors.As(err, &le) {
			return c.fail(fc, http.StatusConflict, le.Message)
		}
		return err
	}
	c.log.Info("console revoked a link", "link_id", id)
	return fc.Redirect(c.opts.BasePath+"/admin/links/"+id+"?revoked=1", http.StatusSeeOther)
}

// Tuning.

type periodOpt struct {
	Value, Label string
	Selected     bool
}

type changeRow struct {
	ID, LinkID, Kind string
	At               time.Time
	Old, New         fingerprint.Decision
	Rule             string
}

type tuningPage struct {
	YAML, Period, Config, Error, Saved string
	Periods                            []periodOpt
	Ran, CanSave                       bool
	Events, Flipped                    int
	NewConfig                          string
	Matrix                             []stat
	Changes                            []changeRow
	More                               bool
}

var periods = []periodOpt{{"1h", "last hour", false}, {"24h", "last 24 hours", false},
	{"168h", "last 7 days", false}, {"720h", "last 30 days", false}}

// maxReplay bounds the events one what-if reads, so that a long period
// cannot take the server's memory.
const maxReplay = 50000

func (c *Console) tuningPageData(yml, period string) tuningPage {
	p := tuningPage{YAML: yml, Period: period, Config: c.opts.Engine.Hash(), CanSave: c.opts.SaveHeuristics != nil}
	if p.Period == "" {
		p.Period = "168h"
	}
	for _, o := range periods {
		o.Selected = o.Value == p.Period
		p.Periods = append(p.Periods, o)
	}
	if p.YAML == "" {
		cfg := c.opts.Engine.Config()
		b, err := yaml.Marshal(map[string]any{"heuristics": cfg})
		if err == nil {
			p.YAML = string(b)
		}
	}
	return p
}

func (c *Console) tuning(fc *fiber.Ctx) error {
	return c.render(fc, http.StatusOK, "tuning.html", c.tuningPageData("", fc.Query("period")))
}

// parseHeuristics reads pasted YAML: a `heuristics:` section or its body,
// laid over the defaults as the config file is; unknown keys are errors.
func parseHeuristics(text string) (fingerprint.Config, error) {
	cfg := fingerprint.DefaultConfig()
	var probe map[string]yaml.Node
	if err := yaml.Unmarshal([]byte(text), &probe); err != nil {
		return cfg, fmt.Errorf("the YAML does not parse: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	doc := []byte(text)
	if n, ok := probe["heuristics"]; ok && len(probe) == 1 {
		b, err := yaml.Marshal(&n)
		if err != nil {
			return cfg, err
		}
		doc = b
	}
	d := yaml.NewDecoder(bytes.NewReader(doc))
	d.KnownFields(true)
	if err := d.Decode(&cfg); err != nil && err.Error() != "EOF" {
		return cfg, fmt.Errorf("heuristics: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("heuristics: %v", err)
	}
	return cfg, nil
}

func (c *Console) tuningPost(fc *fiber.Ctx) error {
	text := utils.CopyString(fc.FormValue("yaml"))
	p := c.tuningPageData(text, utils.CopyString(fc.FormValue("period")))
	cfg, err := parseHeuristics(text)
	if err != nil {
		p.Error = err.Error()
		return c.render(fc, http.StatusBadRequest, "tuning.html", p)
	}
	eng, err := fingerprint.NewEngine(cfg)
	if err != nil {
		p.Error = "heuristics: " + err.Error()
		return c.render(fc, http.StatusBadRequest, "tuning.html", p)
	}
	if fc.FormValue("action") == "save" {
		if c.opts.SaveHeuristics == nil {
			p.Error = "This server cannot save heuristics (it was started without a config file)."
			return c.render(fc, http.StatusConflict, "tuning.html", p)
		}
		where, err := c.opts.SaveHeuristics(cfg)
		if err != nil {
			p.Error = "Not saved: " + err.Error()
			return c.render(fc, http.StatusInternalServerError, "tuning.html", p)
		}
		c.log.Info("console saved heuristics", "config", eng.Hash(), "file", where)
		p.Saved = fmt.Sprintf("Saved to %s and applied: new decisions are made under configuration %s.", where, eng.Hash())
		p.Config = c.opts.Engine.Hash()
		return c.render(fc, http.StatusOK, "tuning.html", p)
	}
	d, err := time.ParseDuration(p.Period)
	if err != nil || d <= 0 || d > 720*time.Hour {
		p.Error = "Choose a period of at most 30 days."
		return c.render(fc, http.StatusBadRequest, "tuning.html", p)
	}
	var events []replay.Event
	err = c.svc.Decisions(fc.UserContext(), c.opts.Now().Add(-d), func(v *linkguard.Visit) error {
		if len(events) >= maxReplay {
			p.More = true
			return errStop
		}
		ev, _ := replay.FromVisit(v) // Decisions gives only visits with one
		events = append(events, ev)
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return err
	}
	res := replay.Replay(eng, events)
	p.Ran, p.Events, p.NewConfig = true, len(events), res.Config
	matrix := map[string]int64{}
	for _, ch := range res.Changes {
		if !ch.Flipped() {
			continue
		}
		p.Flipped++
		matrix[string(ch.Old.Decision)+" → "+string(ch.New.Decision)]++
		if len(p.Changes) < 200 {
			p.Changes = append(p.Changes, changeRow{ID: ch.Event.ID, LinkID: ch.Event.LinkID, Kind: string(ch.Event.Kind),
				At: ch.Event.At, Old: ch.Old.Decision, New: ch.New.Decision, Rule: ch.New.Rule})
		}
	}
	for k, v := range matrix {
		p.Matrix = append(p.Matrix, stat{k, v})
	}
	sort.Slice(p.Matrix, func(i, j int) bool { return p.Matrix[i].Name < p.Matrix[j].Name })
	return c.render(fc, http.StatusOK, "tuning.html", p)
}

var errStop = errors.New("stop")

// Webhooks.

type webhooksPage struct {
	Jobs []linkguard.WebhookJob
}

func (c *Console) webhooks(fc *fiber.Ctx) error {
	jobs, err := c.svc.Store.RecentWebhooks(fc.UserContext(), 100)
	if err != nil {
		return err
	}
	return c.render(fc, http.StatusOK, "webhooks.html", webhooksPage{Jobs: jobs})
}

// Export.

func (c *Console) exportPage(fc *fiber.Ctx) error {
	_, backup := c.svc.Store.(linkguard.Backuper)
	return c.render(fc, http.StatusOK, "export.html", struct{ Backup bool }{backup})
}

// export streams the recorded decisions as JSONL, the format of
// `linkguard events export` and GET /v1/events.
func (c *Console) export(fc *fiber.Ctx) error {
	since, err := replay.ParseSince(fc.Query("since", "168h"), c.opts.Now())
	if err != nil {
		return c.fail(fc, http.StatusBadRequest, "since "+err.Error()+".")
	}
	ctx := context.WithoutCancel(fc.UserContext())
	fc.Set(fiber.HeaderContentType, "application/x-ndjson")
	fc.Set(fiber.HeaderCacheControl, "no-store")
	fc.Set(fiber.HeaderContentDisposition, `attachment; filename="linkguard-events.jsonl"`)
	fc.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		err := c.svc.Decisions(ctx, since, func(v *linkguard.Visit) error {
			ev, _ := replay.FromVisit(v) // Decisions gives only visits with one
			return enc.Encode(ev)
		})
		if err != nil {
			c.log.Error("console export", "err", err)
		}
		w.Flush()
	})
	return nil
}
