package server

import (
	"net/http"

	connectcors "connectrpc.com/cors"
	"github.com/rs/cors"
)

// withCORS lets pages of origins call h from a browser: it answers the
// preflight (OPTIONS) of a Connect, gRPC-Web or gRPC call and adds the
// headers a browser needs to the answer. The credential travels in the
// Authorization header, never in a cookie, so credentials mode stays off.
func withCORS(h http.Handler, origins []string) http.Handler {
	if len(origins) == 0 {
		return h
	}
	return cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: connectcors.AllowedMethods(),
		AllowedHeaders: append(connectcors.AllowedHeaders(), "Authorization"),
		ExposedHeaders: connectcors.ExposedHeaders(),
		MaxAge:         7200, // seconds a browser may cache a preflight
	}).Handler(h)
}
