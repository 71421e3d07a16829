package model

//go:generate go run ./internal/terragen -schemas terraschema/schemas -out terra_gen.go
