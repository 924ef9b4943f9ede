// Package mail renders linkguard's sign-in emails and delivers them over SMTP.
//
// The pieces, from the outside in:
//
//   - ParseURL turns LINKGUARD_SMTP_URL into a Config. smtp:// always
//     upgrades with STARTTLS (a relay that does not offer it is an error,
//     never a silent downgrade); smtps:// speaks TLS from the first byte.
//   - Renderer fills the embedded (or operator-supplied) templates: a
//     subject, a plain-text part and an inline-styled HTML part, each showing
//     the link, the code, when the link expires and where the request came
//     from, so that a person can spot a request they did not make.
//   - Sender delivers one Message through github.com/wneessen/go-mail and
//     classifies failures: IsPermanent tells a 5xx reply (retrying cannot
//     help) from a 4xx reply, a refused connection or a timeout.
//   - Deliverer drains a durable Queue (kept by the store) with retries and
//     Backoff, so a mail accepted while the relay is down goes out once it is
//     back, and a job is never sent by two goroutines or instances at once.
//   - Outbox keeps the last mails in memory for dev mode's /dev/outbox.
//
// NB: a Message carries the link URL and the code in the clear, because the
// mail must contain them. Nothing in this package logs a Message, its link
// or its code; error texts carry SMTP replies and addresses of the relay,
// never the message body or the SMTP password.
package mail
