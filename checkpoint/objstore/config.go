package objstore

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"
)

// Config says how to reach S3. Its String, GoString, LogValue and
// MarshalJSON print "***" for AccessKey, SecretKey and SessionToken when
// they are set, so a Config can be logged or formatted with any verb
// without leaking them.
type Config struct {
	// Endpoint is "http://127.0.0.1:8333" or "s3.eu-west-1.amazonaws.com":
	// the scheme decides TLS (http:// plain, https:// or none TLS); empty
	// means AWS (s3.amazonaws.com).
	Endpoint string
	// Region defaults to "us-east-1".
	Region string
	// PathStyle addresses the bucket in the path (http://host/bucket/key),
	// as most S3-compatible servers need (Flink's s3.path.style.access),
	// instead of in the host name (http://bucket.host/key).
	PathStyle    bool
	AccessKey    string
	SecretKey    string
	SessionToken string
	// Timeout bounds each request's time without progress (connecting,
	// waiting for a response, or no bytes moving in a transfer), minio's
	// retries of it included; 0 means 30 s. A big transfer that keeps
	// moving is not cut; the caller's context bounds the whole call.
	Timeout time.Duration
}

const redacted = "***"

func redact(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

// redactedView is Config with its credentials replaced.
type redactedView struct {
	Endpoint     string        `json:"endpoint,omitempty"`
	Region       string        `json:"region,omitempty"`
	PathStyle    bool          `json:"path_style,omitempty"`
	AccessKey    string        `json:"access_key,omitempty"`
	SecretKey    string        `json:"secret_key,omitempty"`
	SessionToken string        `json:"session_token,omitempty"`
	Timeout      time.Duration `json:"timeout,omitempty"`
}

func (c Config) view() redactedView {
	return redactedView{
		Endpoint: c.Endpoint, Region: c.Region, PathStyle: c.PathStyle,
		AccessKey: redact(c.AccessKey), SecretKey: redact(c.SecretKey),
		SessionToken: redact(c.SessionToken), Timeout: c.Timeout,
	}
}

// String implements fmt.Stringer with the credentials redacted.
func (c Config) String() string {
	v := c.view()
	return fmt.Sprintf("{Endpoint:%s Region:%s PathStyle:%t AccessKey:%s SecretKey:%s SessionToken:%s Timeout:%s}",
		v.Endpoint, v.Region, v.PathStyle, v.AccessKey, v.SecretKey, v.SessionToken, v.Timeout)
}

// GoString implements fmt.GoStringer (%#v) with the credentials redacted.
func (c Config) GoString() string {
	v := c.view()
	return fmt.Sprintf("objstore.Config{Endpoint:%q, Region:%q, PathStyle:%t, AccessKey:%q, SecretKey:%q, SessionToken:%q, Timeout:%d}",
		v.Endpoint, v.Region, v.PathStyle, v.AccessKey, v.SecretKey, v.SessionToken, int64(v.Timeout))
}

// LogValue implements slog.LogValuer with the credentials redacted.
func (c Config) LogValue() slog.Value {
	v := c.view()
	return slog.GroupValue(
		slog.String("endpoint", v.Endpoint),
		slog.String("region", v.Region),
		slog.Bool("path_style", v.PathStyle),
		slog.String("access_key", v.AccessKey),
		slog.String("secret_key", v.SecretKey),
		slog.String("session_token", v.SessionToken),
		slog.Duration("timeout", v.Timeout),
	)
}

// MarshalJSON implements json.Marshaler with the credentials redacted.
func (c Config) MarshalJSON() ([]byte, error) { return json.Marshal(c.view()) }

// FromEnv returns c with its empty fields filled from the standard AWS
// environment, read through getenv (os.Getenv when nil):
//
//   - Endpoint: AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL
//   - Region: AWS_REGION, else AWS_DEFAULT_REGION
//   - AccessKey, SecretKey, SessionToken: AWS_ACCESS_KEY_ID,
//     AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, taken together and only
//     when c has neither an AccessKey nor a SecretKey, so a key from the
//     settings is never paired with a secret of other credentials.
func (c Config) FromEnv(getenv func(string) string) Config {
	if getenv == nil {
		getenv = os.Getenv
	}
	first := func(names ...string) string {
		for _, n := range names {
			if v := getenv(n); v != "" {
				return v
			}
		}
		return ""
	}
	if c.Endpoint == "" {
		c.Endpoint = first("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
	}
	if c.Region == "" {
		c.Region = first("AWS_REGION", "AWS_DEFAULT_REGION")
	}
	if c.AccessKey == "" && c.SecretKey == "" {
		c.AccessKey = getenv("AWS_ACCESS_KEY_ID")
		c.SecretKey = getenv("AWS_SECRET_ACCESS_KEY")
		if c.SessionToken == "" {
			c.SessionToken = getenv("AWS_SESSION_TOKEN")
		}
	}
	return c
}
