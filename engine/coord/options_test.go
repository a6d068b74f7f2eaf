package coord_test

import (
	"strings"
	"testing"
	"time"

	"github.com/concord-kv/concord/engine/coord"
)

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		opts coord.Options
		want string // "" when valid
	}{
		{"zero takes the defaults", coord.Options{}, ""},
		{"set", coord.Options{WriteTimeout: time.Second, ReadTimeout: 2 * time.Second, RepairTimeout: time.Minute}, ""},
		{"negative write timeout", coord.Options{WriteTimeout: -time.Second}, "WriteTimeout is -1s"},
		{"negative read timeout", coord.Options{ReadTimeout: -1}, "ReadTimeout is -1ns"},
		{"negative repair timeout", coord.Options{RepairTimeout: -time.Minute}, "RepairTimeout is -1m0s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := c.opts.Validate()
			if c.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate() = %v, want an error mentioning %q", err, c.want)
			}
			defer func() {
				if recover() == nil {
					t.Error("New accepted invalid options")
				}
			}()
			coord.New(nil, nil, nil, c.opts)
		})
	}
}
