"""The server's TOML config, validated up front: the file (`config_file.py`) and each table's loader."""
