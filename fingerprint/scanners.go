package fingerprint

// dataVersion changes whenever the embedded lists below change, so that
// Config.Hash (which includes it) tells decisions made with other lists
// apart.
const dataVersion = "2026.1"

// builtinScanners are the mail-scanner vendors seen in public reports of
// one-time links consumed by security gateways. A visit from one of their
// networks is sent to the code, never consumed and never offered
// Continue.
//
// NB: with Proofpoint or Mimecast browser isolation a person's own click
// also comes from the vendor's network, which is why these entries veto
// towards the code (which the person can type) and never reject.
var builtinScanners = []ScannerEntry{
	{
		Name:   "microsoft",
		Source: "Microsoft 365 'URLs and IP address ranges' (Exchange Online Protection ranges); Safe Links detonation traces in public reports come from AS8075",
		ASNs:   []uint32{8075},
		Ranges: []string{"40.92.0.0/15", "40.107.0.0/16", "52.100.0.0/14", "104.47.0.0/17", "2a01:111:f400::/48"},
		// MicrosoftPreview: Teams/Outlook link previews; SkypeUriPreview:
		// Skype and Teams unfurling; BingPreview: Bing's snapshotter.
		UserAgents: []string{"MicrosoftPreview", "SkypeUriPreview", "BingPreview"},
	},
	{
		Name:   "proofpoint",
		Source: "public reports of Proofpoint URL Defense clicks; ASN registry (whois) entries of Proofpoint, Inc.",
		ASNs:   []uint32{22843, 26211, 52129},
	},
	{
		Name:   "mimecast",
		Source: "public reports of Mimecast URL Protect clicks; ASN registry entries of Mimecast",
		ASNs:   []uint32{30031, 39588, 42427, 60492},
	},
	{
		Name:       "barracuda",
		Source:     "public reports of Barracuda link protection clicks ('Barracuda Sentinel' UA); ASN registry entry of Barracuda Networks",
		ASNs:       []uint32{15324},
		UserAgents: []string{"Barracuda Sentinel"},
	},
	{
		Name:   "cisco",
		Source: "Cisco IronPort / Secure Email URL filtering traces in public reports; ASN registry entry of Cisco IronPort",
		ASNs:   []uint32{16417},
	},
	{
		Name:       "google",
		Source:     "Gmail safe-browsing checks ('Google-Safety' UA) in public reports; AS15169 is Google's own network",
		ASNs:       []uint32{15169},
		UserAgents: []string{"Google-Safety"},
	},
	{
		Name:       "chat-unfurlers",
		Source:     "link unfurlers that open links pasted into chats: Slack documents Slackbot-LinkExpanding; Discord, Telegram and WhatsApp publish their bot UAs",
		UserAgents: []string{"Slackbot-LinkExpanding", "Slackbot", "Discordbot", "TelegramBot", "WhatsApp/", "facebookexternalhit", "LinkedInBot", "Twitterbot"},
	},
}

// genericBotUAs are lower-case substrings of user agents that no person's
// browser sends: HTTP libraries, crawlers and headless tools.
// Source: the libraries' own default User-Agent strings.
var genericBotUAs = []string{
	"bot/", "bot;", "crawler", "spider", "preview", "scanner",
	"curl/", "wget/", "python-requests", "python-urllib", "aiohttp", "httpx",
	"go-http-client", "java/", "okhttp", "apache-httpclient", "libwww-perl",
	"node-fetch", "axios/", "undici", "scrapy", "phantomjs", "headlesschrome",
	"puppeteer", "playwright", "selenium", "powershell", "winhttp",
}

// builtinDatacenters are ASNs of cloud and hosting providers, from their
// ASN registry entries. The rule: cloud ASNs count as datacenter.
// Cloudflare (13335) is left out: its WARP client carries people.
var builtinDatacenters = []uint32{
	16509, 14618, // Amazon AWS
	396982, 19527, // Google Cloud
	8075,         // Microsoft Azure (also a scanner network)
	14061,        // DigitalOcean
	16276,        // OVH
	24940,        // Hetzner
	63949,        // Akamai Connected Cloud (Linode)
	20473,        // Vultr (Choopa)
	31898,        // Oracle Cloud
	45102,        // Alibaba Cloud
	132203,       // Tencent Cloud
	51167,        // Contabo
	12876,        // Scaleway
	60781, 28753, // Leaseweb
	9009,   // M247 (hosting, VPN exits)
	212238, // Datacamp / CDN77
	36352,  // ColoCrossing
	46606,  // Unified Layer
	62567,  // DigitalOcean (legacy)
}

func builtinScannerNames() []string {
	n := make([]string, len(builtinScanners))
	for i, e := range builtinScanners {
		n[i] = e.Name
	}
	return n
}
