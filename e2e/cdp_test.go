package e2e

import (
	"context"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// emulationScriptOff turns JavaScript off for the tab, as in a browser
// with scripting disabled: <noscript> content is shown.
func emulationScriptOff(ctx context.Context) error {
	_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
	return err
}

// addScript runs src in every new document of the tab before its own
// scripts, as a scanner's injected script would.
func addScript(ctx context.Context, src string) error {
	_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: src})
	return err
}
