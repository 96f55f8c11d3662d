# One line per fuzz target: benhan_fuzz_target(name LIBS libs...)
benhan_fuzz_target(validator LIBS benhan_fhir)
benhan_fuzz_target(fhirpath_parser LIBS benhan_fhir)
benhan_fuzz_target(request_body LIBS benhan_fhir)
