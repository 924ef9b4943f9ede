// Package report is the landing page collector's report: the signals a
// page sends with verify and confirm, a JSON encoder for it that needs
// neither fmt nor encoding/json nor reflect, and the plain-Go accounting
// (Recorder, PathTracker, UAMarks) that the WebAssembly collector in
// wasm/ drives.
//
// It is its own package, importing nothing but the standard library's
// math, math/bits, strconv, errors and unicode/utf8 and internal/clip
// (itself importing nothing), with its own copy of BLAKE2s for the proof
// (blake2s.go: x/crypto's package would bring in reflect; crypto/sha256
// would cost 490 KB), so that the collector links none of the decision
// engine (package fingerprint re-exports these types under the same
// names). NB: keep it that way; `time` alone adds 37 KB of brotli.
package report

// SchemaVersion is the version of Report that this build writes and reads.
//
// Version 4 added the key clock (Interaction.Keys): how the trusted key
// events' timestamps sit on a whole-millisecond grid. Version 3 added the
// click's press duration, screen point, offset from
// the button's centre, the button's size and hover; the window's screen
// position; the Web Worker's view of the device; and the proof that the
// page's module made the report for this rendering. Version 2 added the
// automation, device, locale, timing and page groups, event counts and
// the pointer path. Version 1 carried only the click.
//
// NB: the server still reads version 2 and 3 reports (a version 3 report
// has no key clock: the rules that need it leave such reports alone), but
// version 2 reports carry no proof, and a report without a proof is not
// believed (see Proof).
const SchemaVersion = 4

// SchemaMark is SchemaVersion written into the collector's binary:
// SchemaMarkPrefix, three decimal digits and ";" ("lg-report-schema=004;").
// A test reads it from a built collector.wasm (e2e/build_test.go) to tell
// a build left over from before a schema change, which would fail the
// browser tests as if the detection were wrong, without running it.
const SchemaMark = SchemaMarkPrefix + string(rune('0'+SchemaVersion/100%10)) +
	string(rune('0'+SchemaVersion/10%10)) + string(rune('0'+SchemaVersion%10)) + ";"

// SchemaMarkPrefix begins SchemaMark.
const SchemaMarkPrefix = "lg-report-schema="

// Report is what the landing page's collector sends with verify and
// confirm. It is compiled into the WebAssembly collector too.
//
// Times (fields named At, or ending in MS) are milliseconds on the page's
// performance.now() clock, whose zero is the start of navigation; 0 means
// "did not happen". Sizes are CSS pixels.
//
// NB: the collector encodes it without encoding/json (see AppendJSON); the
// server decodes it with encoding/json, rejecting unknown fields. A field
// added here must be added to AppendJSON in the same change (the tests
// fail otherwise), and SchemaVersion raised.
type Report struct {
	V int `json:"v"`
	// Stage is the request the report was made for: "verify" or "confirm".
	Stage       string      `json:"stage,omitempty"`
	Automation  Automation  `json:"automation"`
	Device      Device      `json:"device"`
	Locale      Locale      `json:"locale"`
	Interaction Interaction `json:"interaction"`
	Timing      Timing      `json:"timing"`
	Page        Page        `json:"page"`
	// Errors names the probes that threw or were unavailable (for
	// example "webgl", "permissions"), so that a missing value can be
	// told from a zero one. At most MaxErrors entries.
	Errors []string `json:"errors,omitempty"`
	// Proof binds the report to the rendering it was made on (see
	// Proof); nil in version 2 reports and in reports without a module.
	Proof *Proof `json:"proof,omitempty"`
}

// Automation holds the markers that automated and headless browsers tend
// to leave.
type Automation struct {
	// Webdriver is navigator.webdriver.
	Webdriver bool `json:"webdriver"`
	// UAMarks lists the automation marks found in the user agent string
	// (see UAMarks), e.g. "HeadlessChrome".
	UAMarks []string `json:"ua_marks,omitempty"`
	// ChromeObject is true when window.chrome is an object. Desktop
	// Chrome has one; some headless and automation builds do not.
	ChromeObject bool `json:"chrome_object"`
	// NotificationPermission is Notification.permission ("default",
	// "granted", "denied"), or "" when Notification is missing.
	NotificationPermission string `json:"notification_permission,omitempty"`
	// NotificationQuery is the state of permissions.query({name:
	// "notifications"}) ("prompt", "granted", "denied"), or "" when the
	// query is missing or failed. Old headless Chrome answered "denied"
	// here while Notification.permission said "default".
	NotificationQuery string `json:"notification_query,omitempty"`
	// Plugins and MimeTypes are navigator.plugins.length and
	// navigator.mimeTypes.length.
	Plugins   int `json:"plugins"`
	MimeTypes int `json:"mime_types"`
	// PDFViewer is navigator.pdfViewerEnabled.
	PDFViewer bool `json:"pdf_viewer"`
}

// Device describes the browser and the machine it runs on.
type Device struct {
	UserAgent string `json:"user_agent,omitempty"`
	// Platform is navigator.platform.
	Platform string `json:"platform,omitempty"`
	// UAData is navigator.userAgentData (low-entropy values), nil when
	// the browser has none (Firefox, Safari).
	UAData              *UAData `json:"ua_data,omitempty"`
	HardwareConcurrency int     `json:"hardware_concurrency"`
	// DeviceMemory is navigator.deviceMemory in GiB (Chromium only; 0
	// when absent).
	DeviceMemory   float64 `json:"device_memory"`
	MaxTouchPoints int     `json:"max_touch_points"`
	// PointerFine and Hover are matchMedia("(pointer: fine)") and
	// matchMedia("(hover: hover)").
	PointerFine bool   `json:"pointer_fine"`
	Hover       bool   `json:"hover"`
	Screen      Screen `json:"screen"`
	Window      Window `json:"window"`
	// WebGL is nil when no WebGL context could be made.
	WebGL *WebGL `json:"webgl,omitempty"`
	// Worker is the device as a dedicated Web Worker sees it; nil when no
	// worker could be started or it did not answer in time (Errors then
	// names "worker"). A page whose navigator was patched by script
	// usually leaves the worker's untouched.
	Worker *Worker `json:"worker,omitempty"`
}

// Worker is navigator as a dedicated Web Worker reads it.
type Worker struct {
	UserAgent string `json:"user_agent,omitempty"`
	Platform  string `json:"platform,omitempty"`
	// Languages is the worker's navigator.languages (at most
	// MaxLanguages entries).
	Languages           []string `json:"languages,omitempty"`
	HardwareConcurrency int      `json:"hardware_concurrency"`
}

// UAData is navigator.userAgentData.
type UAData struct {
	Brands   []Brand `json:"brands,omitempty"`
	Mobile   bool    `json:"mobile"`
	Platform string  `json:"platform,omitempty"`
}

// Brand is one entry of navigator.userAgentData.brands.
type Brand struct {
	Brand   string `json:"brand"`
	Version string `json:"version"`
}

// Screen is window.screen and window.devicePixelRatio.
type Screen struct {
	Width       int     `json:"width"`
	Height      int     `json:"height"`
	AvailWidth  int     `json:"avail_width"`
	AvailHeight int     `json:"avail_height"`
	ColorDepth  int     `json:"color_depth"`
	PixelRatio  float64 `json:"pixel_ratio"`
}

// Window is the browser window's size and place. Old headless Chrome
// reported outer sizes of 0.
type Window struct {
	InnerWidth  int `json:"inner_width"`
	InnerHeight int `json:"inner_height"`
	OuterWidth  int `json:"outer_width"`
	OuterHeight int `json:"outer_height"`
	// ScreenX and ScreenY are window.screenX and window.screenY: the
	// window's outer top-left corner on the screen, in CSS pixels.
	ScreenX int `json:"screen_x"`
	ScreenY int `json:"screen_y"`
}

// WebGL is the GPU as WebGL names it.
type WebGL struct {
	// Vendor and Renderer are the unmasked values of
	// WEBGL_debug_renderer_info when Unmasked, else the masked
	// VENDOR and RENDERER parameters.
	Vendor   string `json:"vendor,omitempty"`
	Renderer string `json:"renderer,omitempty"`
	Unmasked bool   `json:"unmasked"`
}

// Locale is the visitor's time zone and languages.
type Locale struct {
	// TimeZone is Intl.DateTimeFormat().resolvedOptions().timeZone.
	TimeZone string `json:"time_zone,omitempty"`
	// OffsetMinutes is the UTC offset east of Greenwich, in minutes
	// (-new Date().getTimezoneOffset()).
	OffsetMinutes int `json:"offset_minutes"`
	// Language is navigator.language; Languages is navigator.languages
	// (at most MaxLanguages entries).
	Language  string   `json:"language,omitempty"`
	Languages []string `json:"languages,omitempty"`
}

// Interaction holds the input the page saw. Only events with isTrusted
// count as interaction; events made by script are counted apart, in
// Untrusted, and never make a click trusted.
type Interaction struct {
	Trusted   Events `json:"trusted"`
	Untrusted Events `json:"untrusted"`
	// FirstMS is the time of the first trusted pointer, touch, key or
	// scroll event (focus does not count), 0 when there was none.
	FirstMS float64 `json:"first_ms"`
	// Path summarizes all trusted pointer movement seen so far.
	Path PointerPath `json:"path"`
	// Click is the click on Continue, when there was one. A trusted
	// click replaces an untrusted one, never the other way round.
	Click *Click `json:"click,omitempty"`
	// Keys is the clock of the trusted key events (version 4).
	Keys KeyClock `json:"keys,omitzero"`
}

// KeyClock describes the timestamps of the trusted keydown, keypress and
// keyup events. A keyboard on X11 (Linux) reaches the page stamped with
// the X server's clock, in whole milliseconds, and gives one key press's
// keydown and keypress one stamp; the debugging protocol stamps each
// command when the browser handles it (measured in Chromium 156: see
// docs/collector.md).
type KeyClock struct {
	// N counts the timed events: trusted keydown, keypress and keyup.
	N int `json:"n"`
	// OffGrid is the largest distance, in ms (0 to 0.5), of one of their
	// timeStamps from a whole number of milliseconds after the first.
	OffGrid float64 `json:"off_grid"`
	// PressGap is the longest time, in ms, from a keydown to the keypress
	// that followed it (0 when they shared their stamp).
	PressGap float64 `json:"press_gap"`
}

// Events counts the events of each kind.
type Events struct {
	PointerMove EventCount `json:"pointermove"`
	PointerDown EventCount `json:"pointerdown"`
	TouchStart  EventCount `json:"touchstart"`
	KeyDown     EventCount `json:"keydown"`
	Scroll      EventCount `json:"scroll"`
	Focus       EventCount `json:"focus"`
	Click       EventCount `json:"click"`
}

// EventCount is how many events of one kind were seen, and when the first
// one was.
type EventCount struct {
	N       int     `json:"n"`
	FirstMS float64 `json:"first_ms,omitempty"`
}

// Click describes a click on the Continue button.
type Click struct {
	// Trusted is the event's isTrusted: made by the user agent from
	// real input (or by a debugging protocol), not by page script.
	Trusted bool `json:"trusted"`
	// OnContinue is true when the event's target is #lg-continue itself
	// (or inside it).
	OnContinue bool    `json:"on_continue"`
	AtMS       float64 `json:"at_ms"`
	// X and Y are the click's client coordinates; keyboard activation
	// gives 0, 0 and Detail 0.
	X      float64 `json:"x"`
	Y      float64 `json:"y"`
	Detail int     `json:"detail"`
	// PointerType is "mouse", "pen" or "touch", or "" for keyboard
	// activation or an old browser.
	PointerType string `json:"pointer_type,omitempty"`
	// Path is the pointer path in the PathWindowMS before the click.
	Path PointerPath `json:"path"`
	// PressMS is the time from the pointerdown to the pointerup on the
	// button before this click, 0 when unknown (keyboard activation, or
	// no pointerdown on the button).
	PressMS float64 `json:"press_ms"`
	// ScreenX and ScreenY are the event's screenX and screenY. For real
	// input, ScreenY − Y is the window's screenY plus its top chrome
	// (see docs/collector.md for what CDP input gives).
	ScreenX float64 `json:"screen_x"`
	ScreenY float64 `json:"screen_y"`
	// OffsetX and OffsetY are the click point minus the centre of the
	// button, in CSS pixels: a script clicking an element's centre gives
	// 0, 0.
	OffsetX float64 `json:"offset_x"`
	OffsetY float64 `json:"offset_y"`
	// TargetW and TargetH are the button's size in CSS pixels.
	TargetW float64 `json:"target_w"`
	TargetH float64 `json:"target_h"`
	// Hovered is true when a trusted pointerover or pointermove reached
	// the button before its pointerdown: a hand moves onto a button
	// before pressing it; a synthesized press may arrive from nowhere.
	Hovered bool `json:"hovered"`
	// Pressure is the PointerEvent.pressure of the trusted pointerdown on
	// the button before this click; nil when there was none (keyboard, a
	// script, reports made before the field). A mouse's pressed button
	// gives 0.5 (Pointer Events: hardware without pressure MUST report
	// 0.5 while a button is down); the debugging protocol's
	// Input.dispatchMouseEvent gives its "force" parameter, 0 by default.
	Pressure *float64 `json:"pressure,omitempty"`
}

// PointerPath summarizes a stretch of trusted pointer movement.
type PointerPath struct {
	// Points is the number of distinct positions.
	Points int `json:"points"`
	// Length is the distance travelled, in CSS pixels.
	Length float64 `json:"length"`
	// Straightness is the distance from first to last point divided by
	// Length: 1 for a straight line, towards 0 for a wandering path, 0
	// when Length is 0.
	Straightness float64 `json:"straightness"`
	// DurationMS is the time from the first to the last point.
	DurationMS float64 `json:"duration_ms"`
	// SpeedCV is the coefficient of variation of the speeds of the
	// path's segments: scripted moves are often evenly paced (near 0),
	// hands are not. 0 with fewer than three points.
	SpeedCV float64 `json:"speed_cv"`
	// EndDistance is, in a click's path, the distance from the last
	// pointer position to the click point; -1 when there was no path.
	EndDistance float64 `json:"end_distance"`
}

// Timing is where the page was in its life when the report was made.
type Timing struct {
	// NavigationType is the navigation timing entry's type: "navigate",
	// "reload", "back_forward" or "prerender".
	NavigationType string `json:"navigation_type,omitempty"`
	// DOMContentLoadedMS and LoadMS are the end of those events, from
	// the navigation timing entry (0 when not reached yet).
	DOMContentLoadedMS float64 `json:"dom_content_loaded_ms"`
	LoadMS             float64 `json:"load_ms"`
	// StartMS is when the collector started (module instantiated).
	StartMS float64 `json:"start_ms"`
	// VerifyMS and ConfirmMS are when the reports for those stages were
	// made; a confirm report carries both.
	VerifyMS  float64 `json:"verify_ms"`
	ConfirmMS float64 `json:"confirm_ms"`
}

// Page is the page's visibility and focus.
type Page struct {
	// Visibility is document.visibilityState at report time.
	Visibility string `json:"visibility,omitempty"`
	// VisibleAtStart is whether the page was visible when the collector
	// started.
	VisibleAtStart bool `json:"visible_at_start"`
	// VisibilityChanges counts visibilitychange events.
	VisibilityChanges int `json:"visibility_changes"`
	// HasFocus is document.hasFocus() at report time; FocusedAtStart at
	// collector start.
	HasFocus       bool `json:"has_focus"`
	FocusedAtStart bool `json:"focused_at_start"`
	// Prerendered is true when the page was prerendered before being
	// shown (document.prerendering or an activationStart).
	Prerendered bool `json:"prerendered"`
}

// Proof is the collector's evidence that it ran for this rendering: a
// proof of work over the rendering's nonce and the rest of the report
// (see ProofSeed), so that a report recorded on one rendering, or edited,
// does not check out on another. The server finds the rendering's time
// in the nonce and checks the report's clock against it.
type Proof struct {
	// Nonce is the rendering's nonce (meta lg-nonce) the work was done
	// over; the server compares it with the request's.
	Nonce string `json:"nonce,omitempty"`
	// Bits is the difficulty worked to: SHA-256(seed ‖ Counter) starts
	// with Bits zero bits. The server requires at least its minimum.
	Bits int `json:"bits"`
	// Counter is the value found.
	Counter int `json:"counter"`
	// MS is how long the work took in the page.
	MS float64 `json:"ms"`
}

// Limits on what a report may carry; the collector truncates to them.
const (
	MaxErrors    = 16
	MaxLanguages = 16
	MaxBrands    = 8
	MaxUAMarks   = 8
	MaxString    = 512 // bytes, for any string
)

// TrustedClick reports whether the report carries a trusted (isTrusted)
// click on #lg-continue itself. A click made by page script, or one that
// landed elsewhere, never counts.
func (r *Report) TrustedClick() bool {
	return r != nil && r.Interaction.Click != nil &&
		r.Interaction.Click.Trusted && r.Interaction.Click.OnContinue
}
