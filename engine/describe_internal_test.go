package engine

import "testing"

func TestSecretOptions(t *testing.T) {
	for key, secret := range map[string]bool{
		"properties.sasl.jaas.config": true, "properties.ssl.truststore.password": true,
		"PASSWORD": true, "s3.secret-key": true, "oauth.token": true, "gcs.credentials": true,
		"topic": false, "properties.bootstrap.servers": false, "path": false, "format": false,
	} {
		if got := isSecretOption(key); got != secret {
			t.Errorf("isSecretOption(%q) = %v, want %v", key, got, secret)
		}
	}
}
