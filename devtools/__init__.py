"""Development tools, kept out of production (not in ``plugins/``, not in the Docker image; production code
never imports them, ``tests/test_layout.py`` checks the import graph): the synthetic world and its ground
truth, the demo, the benchmarks, the embedded SFTP server, the local and native Airflow runners."""
