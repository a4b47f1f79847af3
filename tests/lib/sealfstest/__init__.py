"""sealfstest - the one package of helpers for sealfs's Python tests.

- sealfstest.mount: a throw-away vault driven through the real `sealfs`
  binary (Vault, VaultTestCase), tree snapshots, store fingerprints, the
  journal's records and the leak scan (scan_for);
- sealfstest.s3: a throw-away s3rver on 127.0.0.1, the fault proxy, the AWS
  environment, S3Vault and the ServerCase / ForegroundCase test bases;
- sealfstest.security: a metadata-only vault reader written from
  docs/FORMAT.md, store copies, needle forms and a process memory scan;
- sealfstest.posix: renameat2 and libc.

Every test adds tests/lib to sys.path in one line before importing it.
Importing mount (and s3, which imports it) installs a SIGTERM handler that
cleans up what the test mounted. Standard library only."""
