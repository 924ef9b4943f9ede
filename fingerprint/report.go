package fingerprint

import "github.com/linkguard/linkguard/fingerprint/report"

// SchemaVersion is the version of Report that this build writes and reads.
const SchemaVersion = report.SchemaVersion

// The collector's report, defined in package report so that the
// WebAssembly collector can build it without linking the decision engine.
// See that package for the meaning of each field.
type (
	Report      = report.Report
	Automation  = report.Automation
	Device      = report.Device
	UAData      = report.UAData
	Brand       = report.Brand
	Screen      = report.Screen
	Window      = report.Window
	WebGL       = report.WebGL
	Worker      = report.Worker
	Proof       = report.Proof
	Locale      = report.Locale
	Interaction = report.Interaction
	Events      = report.Events
	EventCount  = report.EventCount
	Click       = report.Click
	PointerPath = report.PointerPath
	KeyClock    = report.KeyClock
	Timing      = report.Timing
	Page        = report.Page
)

// UAMarks returns the automation marks in a user agent string; see
// report.UAMarks.
func UAMarks(ua string) []string { return report.UAMarks(ua) }
