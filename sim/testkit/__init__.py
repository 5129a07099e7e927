"""What tests, benchmarks and `hotline demo` need besides the PBX stand-in (`pbx`).

- `testkit.call_snapshots`: call snapshots as the tracker publishes them, without
  spelling out every field.
- `testkit.transcripts`: reader for recorded Asterisk AMI/FastAGI sessions.
- `testkit.scratch_db`: scratch SQLite files and uniquely named PostgreSQL databases,
  copied from a template migrated once.
- `testkit.console_users`: console users inserted with one password hash per process.
- `testkit.open_access`: access checks that refuse nobody, for tests of other things.
- `testkit.demo_directory`: a realistic, deterministic demo site directory.
- `testkit.demo`: the `hotline demo` runner (stand-in, call generator, demo directory).
"""
