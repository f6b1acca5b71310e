module flarego.test/profgen

go 1.19
