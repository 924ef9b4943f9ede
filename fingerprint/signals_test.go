package fingerprint

import (
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// signalCase edits the baseline human input and states what one signal
// must then say: the sign of its value, whether it vetoes, and a word of
// its reason.
type signalCase struct {
	name   string
	edit   func(*Input)
	sign   int // -1, 0, +1
	veto   bool
	reason string
}

func runSignalCases(t *testing.T, signal string, cases []signalCase) {
	t.Helper()
	e := mustEngine(t, DefaultConfig())
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			in := humanInput()
			tt.edit(in)
			c := contribution(e.Decide(in), signal)
			sign := 0
			if c.Value > 0 {
				sign = 1
			} else if c.Value < 0 {
				sign = -1
			}
			if sign != tt.sign || c.Veto != tt.veto || !strings.Contains(c.Reason, tt.reason) {
				t.Fatalf("%s = %+v (veto %v): %q; want sign %d, veto %v, reason with %q", signal, c.Value, c.Veto, c.Reason, tt.sign, tt.veto, tt.reason)
			}
		})
	}
}

func TestSignalGeo(t *testing.T) {
	runSignalCases(t, "geo", []signalCase{
		{"geo/same city", func(in *Input) {}, 1, false, "same city"},
		{"geo/same country", func(in *Input) { in.Visitor.Network.City = "Leeds" }, 1, false, "same country"},
		{"geo/other country", func(in *Input) { in.Visitor.Network.Country = "US" }, -1, false, "GB → US"},
		{"geo/no data", func(in *Input) { in.Visitor.Network.Country = "" }, 0, false, "no GeoIP"},
		{"geo/near by distance", func(in *Input) {
			in.Requester.Network.Lat, in.Requester.Network.Lon, in.Requester.Network.HasGeo = 51.5, -0.12, true
			in.Visitor.Network.Lat, in.Visitor.Network.Lon, in.Visitor.Network.HasGeo = 51.45, -0.97, true
		}, 1, false, "km from the requester"},
		{"geo/far by distance", func(in *Input) {
			in.Requester.Network.Lat, in.Requester.Network.Lon, in.Requester.Network.HasGeo = 51.5, -0.12, true
			in.Visitor.Network.Lat, in.Visitor.Network.Lon, in.Visitor.Network.HasGeo = 39.04, -77.49, true
			in.Visitor.Network.Country = "US"
		}, -1, false, "km from the requester (GB → US)"},
	})
}

func TestSignalNetwork(t *testing.T) {
	runSignalCases(t, "network", []signalCase{
		{"network/same asn", func(in *Input) {}, 1, false, "same network"},
		{"network/same prefix", func(in *Input) { in.Visitor.Network.Prefix = in.Requester.Network.Prefix }, 1, false, "same address block"},
		{"network/datacenter", func(in *Input) { in.Visitor.Network.ASN = 16509 }, -1, false, "datacenter"},
		{"network/other", func(in *Input) { in.Visitor.Network.ASN = 64497 }, 0, false, "another network"},
	})
}

func TestSignalScannerNetwork(t *testing.T) {
	runSignalCases(t, "scanner_network", []signalCase{
		{"scanner_network/residential", func(in *Input) {}, 0, false, "not a known mail scanner"},
		{"scanner_network/scanner asn", func(in *Input) { in.Visitor.Network.ASN = 30031 }, -1, true, "mimecast"},
		{"scanner_network/scanner range", func(in *Input) { in.Visitor.Network.Range = "microsoft" }, -1, true, "range"},
		{"scanner_network/datacenter", func(in *Input) { in.Visitor.Network.ASN = 16509 }, -1, false, "datacenter"},
	})
}

func TestSignalUA(t *testing.T) {
	runSignalCases(t, "ua", []signalCase{
		{"ua/same browser", func(in *Input) {}, 1, false, "same browser and OS"},
		{"ua/phone", func(in *Input) { in.Visitor.UserAgent = uaIPhone }, 1, false, "phone and a computer"},
		{"ua/other browser same os", func(in *Input) {
			in.Visitor.UserAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:147.0) Gecko/20100101 Firefox/147.0"
		}, 1, false, "Chrome → Firefox"},
		{"ua/other os", func(in *Input) {
			in.Visitor.UserAgent = "Mozilla/5.0 (X11; Linux x86_64; rv:147.0) Gecko/20100101 Firefox/147.0"
		}, -1, false, "Windows → Linux"},
		{"ua/unknown requester", func(in *Input) { in.Requester.UserAgent = "" }, 0, false, "unknown"},
	})
}

func TestSignalScannerUA(t *testing.T) {
	runSignalCases(t, "scanner_ua", []signalCase{
		{"scanner_ua/browser", func(in *Input) {}, 0, false, "a browser's User-Agent (Chrome 145)"},
		{"scanner_ua/empty", func(in *Input) { in.Visitor.UserAgent = " " }, -1, true, "no User-Agent"},
		{"scanner_ua/named scanner", func(in *Input) { in.Visitor.UserAgent = "Barracuda Sentinel (EE)" }, -1, true, "barracuda"},
		{"scanner_ua/library", func(in *Input) { in.Visitor.UserAgent = "python-requests/2.31" }, -1, true, "python-requests"},
		{"scanner_ua/ie11", func(in *Input) {
			in.Visitor.UserAgent = "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko"
		}, -1, false, "Internet Explorer"},
		{"scanner_ua/stale chrome", func(in *Input) { in.Visitor.UserAgent = uaOldChrome }, -1, false, "releases behind the current one"},
		{"scanner_ua/8 behind the current", func(in *Input) {
			in.Visitor.UserAgent = strings.Replace(uaChromeWin, "145", "138", 1) // 146 expected on 2026-03-02
		}, -1, false, "8 releases behind"},
		{"scanner_ua/7 behind is a slow updater", func(in *Input) {
			in.Visitor.UserAgent = strings.Replace(uaChromeWin, "145", "139", 1)
		}, 0, false, "Chrome 139"},
		{"scanner_ua/behind the requester's", func(in *Input) {
			// Before the release-train base date only the requester's
			// version tells.
			in.Now = time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
			in.Requester.At = in.Now.Add(-time.Minute)
			in.Visitor.UserAgent = strings.Replace(uaChromeWin, "145", "136", 1)
		}, -1, false, "behind the requester's"},
	})
}

func TestSignalTiming(t *testing.T) {
	at := func(d time.Duration) func(*Input) {
		return func(in *Input) { in.Now = t0.Add(d) }
	}
	runSignalCases(t, "timing", []signalCase{
		{"timing/too fast from elsewhere", at(time.Second), -1, false, "faster than a person opens a mail"},
		{"timing/scanner window", at(10 * time.Second), -1, false, "when mail scanners arrive"},
		{"timing/too fast from the requester's network", func(in *Input) {
			in.Now = t0.Add(2 * time.Second)
			in.Visitor.Network.Prefix = in.Requester.Network.Prefix
		}, 0, false, "from the requester's network"},
		{"timing/first view counts, not the report", func(in *Input) {
			in.History = []PastVisit{{At: t0.Add(2 * time.Second), Kind: VisitView, Network: in.Visitor.Network}}
		}, -1, false, "opened the link 2 s after issue"},
		{"timing/a minute", at(time.Minute), 0, false, "60 s after issue"},
		{"timing/hours", at(5 * time.Hour), 0, false, "5 h after issue"},
		{"timing/burst", func(in *Input) {
			in.History = []PastVisit{{At: in.Now.Add(-300 * time.Millisecond), Kind: VisitVerify, Network: in.Visitor.Network}}
		}, -1, false, "two verify requests"},
		{"timing/head then get", func(in *Input) {
			in.History = []PastVisit{{At: t0.Add(50 * time.Second), Kind: VisitView, Network: in.Visitor.Network},
				{At: t0.Add(50*time.Second + 200*time.Millisecond), Kind: VisitView, Network: in.Visitor.Network}}
		}, -1, false, "loaded the page twice"},
	})
}

func TestSignalHeadless(t *testing.T) {
	runSignalCases(t, "headless", []signalCase{
		{"headless/clean", func(in *Input) {}, 0, false, "no automation marks"},
		{"headless/webdriver", func(in *Input) { in.Report.Automation.Webdriver = true }, -1, true, "webdriver"},
		{"headless/ua mark", func(in *Input) { in.Report.Automation.UAMarks = []string{"HeadlessChrome"} }, -1, true, "HeadlessChrome"},
		{"headless/HeadlessChrome header", func(in *Input) {
			in.Visitor.UserAgent = strings.Replace(uaChromeWin, "Chrome/", "HeadlessChrome/", 1)
		}, -1, true, "User-Agent says HeadlessChrome"},
		{"headless/client hint brand", func(in *Input) { in.Visitor.SecCHUA = `"HeadlessChrome";v="145"` }, -1, true, "Sec-CH-UA names HeadlessChrome"},
		{"headless/userAgentData brand", func(in *Input) {
			in.Report.Device.UAData.Brands = []Brand{{Brand: "HeadlessChrome", Version: "145"}}
		}, -1, true, "userAgentData brand"},
		{"headless/no window.chrome", func(in *Input) { in.Report.Automation.ChromeObject = false }, -1, false, "window.chrome"},
		{"headless/notification contradiction", func(in *Input) { in.Report.Automation.NotificationQuery = "denied" }, -1, false, "notification"},
		{"headless/no plugins", func(in *Input) { in.Report.Automation.Plugins, in.Report.Automation.MimeTypes = 0, 0 }, -1, false, "without plugins"},
		{"headless/no report", func(in *Input) { in.Report = nil }, 0, false, "no report"},
	})
}

func TestSignalInput(t *testing.T) {
	click := func(edit func(*Click)) func(*Input) {
		return func(in *Input) { withClick(in); edit(in.Report.Interaction.Click) }
	}
	// keys is Continue pressed with Enter in a browser whose page says
	// ua: keydown, keypress and keyup on the X server's whole-millisecond
	// clock, as TestPersonRealKeysGetOneClick measured them, then edit.
	keys := func(ua string, edit func(*KeyClock), platforms ...string) func(*Input) {
		return func(in *Input) {
			withClick(in)
			if len(platforms) == 2 {
				in.Report.Device.Platform = platforms[0]
				if platforms[1] != "" {
					in.Report.Device.Worker = &Worker{UserAgent: ua, Platform: platforms[1]}
				}
			}
			*in.Report.Interaction.Click = Click{Trusted: true, OnContinue: true, AtMS: 2600, TargetW: 160, TargetH: 40,
				Path: PointerPath{EndDistance: -1}}
			in.Report.Device.UserAgent = ua
			in.Report.Interaction.Trusted.KeyDown = EventCount{N: 1, FirstMS: 2600}
			in.Report.Interaction.Keys = KeyClock{N: 3}
			edit(&in.Report.Interaction.Keys)
		}
	}
	runSignalCases(t, "input", []signalCase{
		{"input/input before report", func(in *Input) {}, 0, false, "trusted input events"},
		{"input/none yet", func(in *Input) { in.Report.Interaction.Trusted = Events{} }, 0, false, "no input"},
		{"input/script events", func(in *Input) { in.Report.Interaction.Untrusted.Click.N = 1 }, -1, true, "made by script"},
		{"input/click with path", click(func(c *Click) {}), 0, false, "pointer path of 24 points"},
		{"input/tap", click(func(c *Click) { c.PointerType = "touch" }), 0, false, "tap"},
		{"input/keyboard", func(in *Input) {
			withClick(in)
			in.Report.Interaction.Click.PointerType = ""
			in.Report.Interaction.Trusted.KeyDown.N = 1
		}, 0, false, "keyboard"},
		{"input/neither pointer nor key", click(func(c *Click) { c.PointerType = "" }), -1, false, "without pointer"},
		{"input/no click at confirm", func(in *Input) { in.Stage = StageConfirm }, -1, true, "no click"},
		{"input/untrusted click", click(func(c *Click) { c.Trusted = false }), -1, true, "made by script"},
		{"input/off target", click(func(c *Click) { c.OnContinue = false }), -1, true, "did not land on Continue"},
		{"input/too fast click", click(func(c *Click) { c.AtMS = 500 }), -1, true, "faster than a person reads"},
		{"input/teleport", click(func(c *Click) { c.Path = PointerPath{EndDistance: -1} }), -1, false, "jumped onto Continue"},
		{"input/far from the last move", click(func(c *Click) { c.Path.EndDistance = 300 }), -1, false, "jumped onto Continue"},
		{"input/even pace", click(func(c *Click) { c.Path.SpeedCV = 0.01 }), -1, false, "even pace"},
		{"input/straight line", click(func(c *Click) { c.Path.Straightness = 1 }), -1, false, "straight line"},
		{"input/press of 1 ms", click(func(c *Click) { c.PressMS = 1 }), -1, false, "held 1 ms"},
		{"input/press unknown", click(func(c *Click) { c.PressMS = 0 }), 0, false, "pointer path"},
		{"input/xdotool's 12 ms press", click(func(c *Click) { c.PressMS = 12 }), 0, false, "pointer path"},
		{"input/exact centre", click(func(c *Click) { c.OffsetX, c.OffsetY = 0, 0.5 }), -1, false, "exact centre"},
		{"input/CDP's rounded centre", click(func(c *Click) { c.OffsetX, c.OffsetY = -0.37, -0.58 }), -1, false, "exact centre"},
		{"input/two pixels off centre", click(func(c *Click) { c.OffsetX, c.OffsetY = 2, 0 }), 0, false, "pointer path"},
		{"input/no hover", click(func(c *Click) { c.Hovered = false }), -1, false, "without the pointer first moving over it"},
		{"input/schema 2 knows no hover", func(in *Input) {
			withClick(in)
			in.Report.V = 2
			in.Report.Interaction.Click.Hovered = false
		}, 0, false, "pointer path"},
		{"input/emulated screen", click(func(c *Click) { c.ScreenY = 400 + 110 + 7 }), -1, false, "7 px off the window's place"},
		{"input/real input within 1 px", click(func(c *Click) { c.ScreenY = 400 + 110 + 1 }), 0, false, "pointer path"},
		{"input/window moved on the screen", func(in *Input) {
			withClick(in)
			in.Report.Device.Window.ScreenX, in.Report.Device.Window.ScreenY = 200, 150
			in.Report.Interaction.Click.ScreenY = 400 + 110 + 150
		}, 0, false, "pointer path"},
		{"input/a mouse click without a pointing device", func(in *Input) {
			withClick(in)
			in.Report.Device.PointerFine, in.Report.Device.Hover = false, false
		}, -1, true, "no pointing device"},
		{"input/a press with pressure 0", click(func(c *Click) { zero := 0.0; c.Pressure = &zero }), -1, true, "pressure 0"},
		{"input/pressure unknown", click(func(c *Click) { c.Pressure = nil }), 0, false, "pointer path"},
		{"input/a Firefox press with pressure 0 is not judged", func(in *Input) {
			withClick(in)
			ff := "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:147.0) Gecko/20100101 Firefox/147.0"
			in.Visitor.UserAgent, in.Report.Device.UserAgent, in.Visitor.SecCHUA, in.Report.Device.UAData = ff, ff, "", nil
			zero := 0.0
			in.Report.Interaction.Click.Pressure = &zero
		}, 0, false, "pointer path"},
		{"input/an iPad claiming a Mac clicks with its trackpad", func(in *Input) {
			withClick(in)
			in.Report.Device.PointerFine, in.Report.Device.Hover, in.Report.Device.MaxTouchPoints = false, false, 5
		}, 0, false, "pointer path"},
		{"input/a tap without a fine pointer", func(in *Input) {
			withClick(in)
			in.Report.Device.PointerFine, in.Report.Device.Hover = false, false
			in.Report.Interaction.Click.PointerType = "touch"
		}, 0, false, "tap"},
		{"input/schema 2 without pointer media", func(in *Input) {
			withClick(in)
			in.Report.V = 2
			in.Report.Device.PointerFine, in.Report.Device.Hover = false, false
		}, 0, false, "pointer path"},
		{"input/keyboard on Linux, on the X server's grid", keys(uaChromeLinux, func(k *KeyClock) {}), 0, false, "keyboard"},
		{"input/keyboard on Linux, off the grid", keys(uaChromeLinux, func(k *KeyClock) { k.OffGrid = 0.3 }), -1, true, "0.3 ms off the whole milliseconds"},
		{"input/keyboard on Linux, keypress apart from its keydown", keys(uaChromeLinux, func(k *KeyClock) { k.PressGap = 3.1 }), -1, true, "keypress came 3.1 ms after its keydown"},
		{"input/keyboard on Linux, float noise on the grid", keys(uaChromeLinux, func(k *KeyClock) { k.OffGrid = 1e-9 }), 0, false, "keyboard"},
		{"input/keyboard on Windows is not judged by the X clock", keys(uaChromeWin, func(k *KeyClock) { k.OffGrid, k.PressGap = 0.3, 0.4 }), 0, false, "keyboard"},
		{"input/keyboard on a Linux PC claiming Windows (page platform)", keys(uaChromeWin, func(k *KeyClock) { k.OffGrid = 0.3 }, "Linux x86_64", ""), -1, true, "0.3 ms off"},
		{"input/keyboard on a Linux PC claiming Windows (Worker platform)", keys(uaChromeWin, func(k *KeyClock) { k.OffGrid = 0.3 }, "Win32", "Linux x86_64"), -1, true, "0.3 ms off"},
		{"input/keyboard on a Linux PC claiming Windows, on the grid", keys(uaChromeWin, func(k *KeyClock) {}, "Linux x86_64", "Linux x86_64"), 0, false, "keyboard"},
		{"input/keyboard: Android asking for the desktop site is not judged", keys(uaChromeLinux, func(k *KeyClock) { k.OffGrid = 0.3 }, "Linux armv81", "Linux armv81"), 0, false, "keyboard"},
		{"input/keyboard on ChromeOS is not judged", keys(uaChromeOS, func(k *KeyClock) { k.OffGrid = 0.3 }), 0, false, "keyboard"},
		{"input/keyboard on Android is not judged", keys(uaChromeAndroid, func(k *KeyClock) { k.OffGrid = 0.3 }), 0, false, "keyboard"},
		{"input/keyboard in Firefox on Linux is not judged", keys(uaFirefoxLinux, func(k *KeyClock) { k.OffGrid = 0.3 }), 0, false, "keyboard"},
		{"input/schema 3 has no key clock", func(in *Input) {
			keys(uaChromeLinux, func(k *KeyClock) { *k = KeyClock{} })(in)
			in.Report.V = 3
		}, 0, false, "keyboard"},
		{"input/CDP click: every tell at once", click(func(c *Click) {
			*c = Click{Trusted: true, OnContinue: true, AtMS: 2600, X: 300, Y: 400, Detail: 1, PointerType: "mouse",
				Path: PointerPath{EndDistance: -1}, PressMS: 0.4, TargetW: 160, TargetH: 40}
		}), -1, false, "jumped onto Continue"},
	})
}

func TestSignalEnvironment(t *testing.T) {
	dev := func(edit func(*Device)) func(*Input) {
		return func(in *Input) { edit(&in.Report.Device) }
	}
	// phone is an Android Chrome on a Pixel: no window frame, a phone's
	// screen, touch, its Adreno GPU; then edit.
	phone := func(edit func(*Device)) func(*Input) {
		return func(in *Input) {
			d := &in.Report.Device
			in.Visitor.UserAgent, d.UserAgent = uaChromeAndroid, uaChromeAndroid
			d.Platform, d.MaxTouchPoints, d.PointerFine, d.Hover = "Linux armv81", 5, false, false
			d.UAData = &UAData{Mobile: true, Platform: "Android"}
			d.Window = Window{InnerWidth: 412, InnerHeight: 780, OuterWidth: 412, OuterHeight: 839}
			d.Screen = Screen{Width: 412, Height: 915, AvailWidth: 412, AvailHeight: 915, ColorDepth: 24, PixelRatio: 2.625}
			d.WebGL = &WebGL{Vendor: "Qualcomm", Renderer: "Adreno (TM) 740", Unmasked: true}
			edit(d)
		}
	}
	runSignalCases(t, "environment", []signalCase{
		{"environment/a person's desktop", func(in *Input) {}, 0, false, "look like a person's device"},
		{"environment/no pointing device", dev(func(d *Device) { d.PointerFine, d.Hover = false, false }), -1, false, "without any pointing device"},
		{"environment/a touch screen only", dev(func(d *Device) { d.PointerFine, d.Hover, d.MaxTouchPoints = false, false, 10 }), 0, false, "person's device"},
		{"environment/outer 0", dev(func(d *Device) { d.Window.OuterWidth, d.Window.OuterHeight = 0, 0 }), -1, false, "outer window size 0"},
		{"environment/outer smaller", dev(func(d *Device) { d.Window.OuterWidth = 100 }), -1, false, "outer window smaller"},
		{"environment/no frame", dev(func(d *Device) { d.Window.OuterWidth, d.Window.OuterHeight = 1280, 900 }), -1, false, "equal to the inner one"},
		{"environment/no frame on a phone is normal", func(in *Input) {
			in.Visitor.UserAgent, in.Report.Device.UserAgent = uaIPhone, uaIPhone
			in.Report.Device.Window = Window{InnerWidth: 390, InnerHeight: 664, OuterWidth: 390, OuterHeight: 664}
			in.Report.Device.Screen = Screen{Width: 390, Height: 844}
		}, 0, false, "person's device"},
		{"environment/larger than the screen", dev(func(d *Device) { d.Screen = Screen{Width: 1024, Height: 768} }), -1, false, "larger than the screen"},
		{"environment/800x600", dev(func(d *Device) {
			d.Screen = Screen{Width: 800, Height: 600}
			d.Window = Window{InnerWidth: 780, InnerHeight: 500, OuterWidth: 800, OuterHeight: 600}
		}), -1, false, "800x600"},
		{"environment/no webgl", dev(func(d *Device) { d.WebGL = nil }), -1, false, "no WebGL context"},
		{"environment/swiftshader", dev(func(d *Device) {
			d.WebGL.Renderer = "ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero)), SwiftShader driver)"
		}), -1, false, "SwiftShader"},
		{"environment/worker agrees", dev(func(d *Device) {
			d.Worker = &Worker{UserAgent: d.UserAgent, Platform: d.Platform, Languages: []string{"en-GB", "en"}, HardwareConcurrency: d.HardwareConcurrency}
		}), 0, false, "person's device"},
		{"environment/worker's UA differs", dev(func(d *Device) {
			d.Worker = &Worker{UserAgent: strings.Replace(d.UserAgent, "Chrome/", "HeadlessChrome/", 1)}
		}), -1, true, "Web Worker's navigator.userAgent differs"},
		{"environment/worker's platform differs", dev(func(d *Device) {
			d.Worker = &Worker{UserAgent: d.UserAgent, Platform: "Linux x86_64"}
		}), -1, false, "platform Linux x86_64, the page Win32"},
		{"environment/worker's languages differ", dev(func(d *Device) {
			d.Worker = &Worker{UserAgent: d.UserAgent, Languages: []string{"en-US"}}
		}), -1, false, "first language en-US"},
		{"environment/worker's cores differ (Brave varies them: weak)", dev(func(d *Device) {
			d.HardwareConcurrency = 8
			d.Worker = &Worker{HardwareConcurrency: 4}
		}), -1, false, "4 cores, the page 8"},
		{"environment/a Chrome phone without WebGL", phone(func(d *Device) { d.WebGL = nil }), -1, true, "a phone without any WebGL context"},
		{"environment/a Chrome phone on SwiftShader", phone(func(d *Device) {
			d.WebGL = &WebGL{Vendor: "Google Inc. (Google)", Renderer: "ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) (0x0000C0DE)), SwiftShader driver)", Unmasked: true}
		}), -1, true, "software rasterizer"},
		{"environment/a Chrome phone through Direct3D", phone(func(d *Device) {
			d.WebGL = &WebGL{Vendor: "Google Inc. (NVIDIA)", Renderer: "ANGLE (NVIDIA, NVIDIA GeForce RTX 3060 (0x00002504) Direct3D11 vs_5_0 ps_5_0, D3D11)", Unmasked: true}
		}), -1, true, "Direct3D"},
		{"environment/a Chrome phone on its own GPU", phone(func(d *Device) {}), 0, false, "person's device"},
		{"environment/an iPhone without WebGL is Safari: a weak mark", func(in *Input) {
			in.Visitor.UserAgent, in.Report.Device.UserAgent = uaIPhone, uaIPhone
			in.Report.Device.Window = Window{InnerWidth: 390, InnerHeight: 664, OuterWidth: 390, OuterHeight: 664}
			in.Report.Device.Screen = Screen{Width: 390, Height: 844}
			in.Report.Device.WebGL = nil
		}, -1, false, "no WebGL context at all"},
		{"environment/vdi warp", dev(func(d *Device) { d.WebGL.Renderer = "ANGLE (Microsoft, Microsoft Basic Render Driver Direct3D11)" }), -1, false, "virtual desktop"},
	})
}

func TestSignalHeaders(t *testing.T) {
	runSignalCases(t, "headers", []signalCase{
		{"headers/agree", func(in *Input) {}, 0, false, "agree"},
		{"headers/spoofed header", func(in *Input) { in.Report.Device.UserAgent = uaOldChrome }, -1, true, "spoofed"},
		{"headers/platform", func(in *Input) { in.Report.Device.Platform = "Linux x86_64" }, -1, false, "navigator.platform"},
		{"headers/client hint platform", func(in *Input) { in.Visitor.SecCHUAPlatform = `"Linux"` }, -1, false, "Sec-CH-UA-Platform"},
		{"headers/client hint version", func(in *Input) { in.Visitor.SecCHUA = `"Google Chrome";v="139", "Chromium";v="139"` }, -1, false, "version 139"},
		{"headers/no client hints from Chrome", func(in *Input) { in.Visitor.SecCHUA = "" }, -1, false, "no Sec-CH-UA"},
		{"headers/client hints from Firefox", func(in *Input) {
			in.Visitor.UserAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:147.0) Gecko/20100101 Firefox/147.0"
			in.Report.Device.UserAgent = in.Visitor.UserAgent
			in.Report.Device.UAData = nil
		}, -1, false, "client hints from a browser that says it is Firefox"},
		// navigator.userAgentData against the User-Agent: tools that
		// override only the UA string (a common scanner disguise) leave
		// Chromium's userAgentData behind.
		{"headers/userAgentData platform", func(in *Input) { in.Report.Device.UAData.Platform = "Linux" }, -1, false, "userAgentData platform"},
		{"headers/userAgentData mobile", func(in *Input) { in.Report.Device.UAData.Mobile = true }, -1, false, "userAgentData.mobile"},
		{"headers/userAgentData brands under a Firefox User-Agent", func(in *Input) {
			in.Visitor.UserAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:147.0) Gecko/20100101 Firefox/147.0"
			in.Report.Device.UserAgent, in.Visitor.SecCHUA, in.Visitor.SecCHUAPlatform, in.Visitor.SecCHUAMobile = in.Visitor.UserAgent, "", "", ""
		}, -1, false, "userAgentData brands from a browser that says it is Firefox"},
		{"headers/cross-site report", func(in *Input) { in.Visitor.SecFetchSite = "cross-site" }, -1, false, "another site"},
		{"headers/replay without Sec-Fetch-Site", func(in *Input) { in.Visitor.SecFetchSite = "" }, -1, true, "without Sec-Fetch-Site"},
		{"headers/prefetch", func(in *Input) { in.Visitor.Purpose = "prefetch" }, -1, true, "prefetch"},
	})
}

func TestSignalProof(t *testing.T) {
	runSignalCases(t, "proof", []signalCase{
		{"proof/not checked", func(in *Input) {}, 0, false, "a record from before the check"},
		// A request without a report (a code typed, a page without
		// scripts) had nothing to check: it is not an old record.
		{"proof/no report", func(in *Input) { in.Report = nil }, 0, false, "no report from the page"},
		{"proof/ok", func(in *Input) { in.Proof = "ok" }, 0, false, "module made this report"},
		{"proof/replayed", func(in *Input) { in.Proof = "replay: the nonce was rendered for another page" }, -1, true, "failed the page's proof (replay"},
	})
}

func TestSignalLocale(t *testing.T) {
	runSignalCases(t, "locale", []signalCase{
		{"locale/matching", func(in *Input) {}, 1, false, "matches the network"},
		{"locale/utc clock", func(in *Input) { in.Report.Locale.TimeZone = "UTC" }, -1, false, "UTC"},
		{"locale/far zone", func(in *Input) { in.Report.Locale.TimeZone = "America/Chicago" }, -1, false, "America/Chicago"},
		{"locale/rewritten header", func(in *Input) {
			in.Visitor.AcceptLanguage = "de-DE"
			in.Requester.AcceptLanguage = "de-DE"
		}, 1, false, "rewritten header"},
		{"locale/other language than requester", func(in *Input) { in.Requester.AcceptLanguage = "fr-FR" }, 1, false, "another language"},
	})
}

func TestSignalHistory(t *testing.T) {
	other := Network{Prefix: "x1", ASN: 8075}
	runSignalCases(t, "history", []signalCase{
		{"history/first", func(in *Input) {}, 0, false, "first visit"},
		{"history/scanner earlier, visitor from requester", func(in *Input) {
			in.Visitor.Network.Prefix = in.Requester.Network.Prefix
			in.History = []PastVisit{{At: t0.Add(2 * time.Second), Kind: VisitView, Network: other}}
		}, 0, false, "likely the mail scanner"},
		{"history/two networks within a second", func(in *Input) {
			in.History = []PastVisit{{At: in.Now.Add(-1500 * time.Millisecond), Kind: VisitView, Network: in.Visitor.Network},
				{At: in.Now.Add(-1366 * time.Millisecond), Kind: VisitView, Network: other}}
		}, -1, false, "less than 1 s apart"},
		{"history/two networks within a second, one the requester's", func(in *Input) {
			in.Visitor.Network.Prefix = in.Requester.Network.Prefix
			in.History = []PastVisit{{At: in.Now.Add(-500 * time.Millisecond), Kind: VisitView, Network: other}}
		}, 0, false, "from the requester's"},
		{"history/fan out", func(in *Input) {
			in.History = []PastVisit{{At: t0.Add(2 * time.Second), Kind: VisitView, Network: other},
				{At: t0.Add(9 * time.Second), Kind: VisitView, Network: Network{Prefix: "x2", ASN: 24940}}}
		}, 0, false, "2 other networks"},
	})
}

func TestSignalBinding(t *testing.T) {
	runSignalCases(t, "binding", []signalCase{
		{"binding/held", func(in *Input) { in.Binding = true }, 1, false, "holds the device cookie"},
		{"binding/other device", func(in *Input) {}, 0, false, "another browser"},
		{"binding/issued by api", func(in *Input) { in.Requester.HasBinding = false }, 0, false, "without a device cookie"},
	})
}

func TestDisabledSignalIsLeftOut(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Disable("geo")
	v := mustEngine(t, cfg).Decide(humanInput())
	if c := contribution(v, "geo"); c.Signal != "missing" || len(v.Signals) != len(registry)-1 {
		t.Fatalf("disabled geo still contributes: %+v", v.Signals)
	}
}

// TestDecideAllocations: a decision allocates its contributions and its
// reasons' string, nothing else (the eval is pooled, User-Agents cached).
func TestDecideAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are checked without the race detector")
	}
	e := mustEngine(t, DefaultConfig())
	in := withClick(humanInput())
	if a := testing.AllocsPerRun(200, func() { e.Decide(in) }); a > 2 {
		t.Fatalf("%v allocations per decision, want at most 2", a)
	}
}

// TestDecideConcurrent: pooled evals and the shared User-Agent cache
// give every concurrent decision its own answer (run it with -race).
func TestDecideConcurrent(t *testing.T) {
	e := mustEngine(t, DefaultConfig())
	person := withClick(humanInput())
	scanner := withClick(humanInput())
	scanner.Visitor.UserAgent = "Mozilla/5.0 Barracuda Sentinel (EE)"
	wantP, wantS := dump(e.Decide(person)), dump(e.Decide(scanner))
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				in, want := person, wantP
				if (g+i)%2 == 1 {
					in, want = scanner, wantS
				}
				if got := dump(e.Decide(in)); got != want {
					errs <- got
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for got := range errs {
		t.Fatalf("a concurrent decision differs:\n%s", got)
	}
}

func netipMust(s string) netip.Addr { return netip.MustParseAddr(s) }
