module flarego.test/goroutines

go 1.19
