"""Intake: a partner's files from its SFTP inbox to staging, each exactly once, with a Dutch receipt.

The modules, in the order a file meets them:

* ``fetch``: list the inbox, wait for a complete upload, download the bytes to the landing folder;
* ``check``: parse (in a sandbox), validate, pseudonymise into staging rows;
* ``ingest``: one file exactly once: check, load the staging rows and write the ledger in one transaction;
* ``ledger``: ``meta_file_ledger``, the history a file is checked against, superseded deliveries;
* ``receipts``: the receipt text a partner reads;
* ``settle``: receipt to the outbox, file to ``processed/`` or ``quarantine/``;
* ``landing``: the original bytes, kept for the partner's retention period;
* ``delivery_windows``: the periods a partner must deliver for, and the missed ones;
* ``files``: the file and its outcome as the modules pass them on (plain, JSON-able values);
* ``locks``, ``replay`` (files from disk, the same path without SFTP), ``issue_summary`` (receipt messages
  grouped by problem).

Functions here are called by the intake DAG's tasks; they take plain values and return small JSON-able dicts
(file names, checksums, counts, Dutch messages), never personal data, since results go to XCom and receipts.
"""
