package router

import "github.com/switchyard-dev/switchyard/router/openai"

func scanFor(x *exchange, body string) error { return openai.Scan([]byte(body), &x.scan) }
