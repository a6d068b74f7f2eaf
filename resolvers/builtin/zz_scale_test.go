package builtin_test

import (
	"fmt"
	"strings"
	"testing"
)

func BenchmarkZZScale(b *testing.B) {
	for _, n := range []int{1, 150, 450} {
		var elems []string
		for i := range n {
			elems = append(elems, fmt.Sprintf(`"e%05d"`, i))
		}
		b.Run(fmt.Sprint("sorted", n), func(b *testing.B) {
			benchmarkResolve(b, "set-union", values("["+strings.Join(elems, ",")+"]"))
		})
		b.Run(fmt.Sprint("long", n), func(b *testing.B) {
			benchmarkResolve(b, "set-union", values(`["`+strings.Repeat("x", 8*n)+`"]`))
		})
	}
	for _, n := range []int{10, 10000} {
		b.Run(fmt.Sprint("lww", n), func(b *testing.B) {
			benchmarkResolve(b, "lww", values(strings.Repeat("x", n), strings.Repeat("x", n)))
		})
	}
}
