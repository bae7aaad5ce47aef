"""``Network.from_json`` on files that are not network files: every one is a NetworkError
that names the file and what is wrong (never a UnicodeDecodeError, RecursionError,
IsADirectoryError, ... and never a silent success)."""

from __future__ import annotations

import codecs
import gzip
import pickle

import pytest

import scenarios
from des_supply.network import MAX_FILE_BYTES, Network, NetworkError

GOOD = scenarios.make("single-stage").network.to_json()

ODD = {
    "zero-bytes.json": (b"", "is empty"),
    "blank.json": (b"  \n\t", "is empty"),
    "gzip.json": (gzip.compress(GOOD.encode()), "is gzip-compressed data"),
    "utf16.json": (GOOD.encode("utf-16"), "is UTF-16 text"),
    "utf16be.json": (codecs.BOM_UTF16_BE + GOOD.encode("utf-16-be"), "is UTF-16 text"),
    "utf32.json": (GOOD.encode("utf-32"), "is UTF-32 text"),
    "latin1.json": (GOOD.replace("stage", "étage").encode("latin-1"), "is not UTF-8 text"),
    "nul.json": (b"{\x00}", "is binary data (a NUL byte at byte 1)"),
    "pickle.json": (pickle.dumps({"nodes": []}), "a Python pickle?"),
    "number.json": (b"5", "a network must be a JSON object, got int"),
    "string.json": (b'"single-stage"', "a network must be a JSON object, got str"),
    "null.json": (b"null", "a network must be a JSON object"),
    "list.json": (b"[]", "a network must be a JSON object, got list"),
    "deep-list.json": (b"[" * 50_000 + b"]" * 50_000, "nested too deeply"),
    "deep-object.json": (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "nested too deeply"),
    "nan.json": (GOOD.replace('"holding_cost": 1.0', '"holding_cost": NaN').encode(), "NaN"),
    "inf.json": (
        GOOD.replace('"shortage_cost": 9.0', '"shortage_cost": Infinity').encode(),
        "Infinity",
    ),
    "duplicate.json": (
        GOOD.replace('"name": "stage"', '"name": "stage", "name": "x"').encode(),
        "key 'name' appears twice",
    ),
    "truncated.json": (GOOD[: len(GOOD) // 2].encode(), "not valid JSON"),
    "unknown-field.json": (
        GOOD.replace('"name": "stage"', '"name": "stage", "colour": 1').encode(),
        "colour",
    ),
}


@pytest.mark.parametrize("name", sorted(ODD))
def test_an_odd_file_is_a_network_error_naming_it(tmp_path, name):
    data, what = ODD[name]
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(NetworkError) as info:
        Network.from_json(path)
    message = str(info.value)
    assert message.startswith(f"network file {path}: "), message
    assert what in message, message
    assert "\n" not in message


def test_a_folder_a_missing_file_and_a_huge_file(tmp_path):
    (tmp_path / "folder.json").mkdir()
    with pytest.raises(NetworkError, match=r"^network file .*folder.json: is a folder"):
        Network.from_json(tmp_path / "folder.json")
    with pytest.raises(NetworkError, match=r"^cannot read network file .*missing.json: No such"):
        Network.from_json(tmp_path / "missing.json")
    huge = tmp_path / "huge.json"
    with huge.open("wb") as f:  # 100 MB, sparse: refused from its size, never read
        f.truncate(100 * 2**20)
    with pytest.raises(NetworkError, match=r"huge.json: 100.0 MiB, larger than any network file"):
        Network.from_json(huge)
    assert MAX_FILE_BYTES < 100 * 2**20


def test_a_utf8_byte_order_mark_is_allowed_and_the_file_reads_back(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(codecs.BOM_UTF8 + GOOD.encode())
    assert Network.from_json(path) == Network.from_json(GOOD)


def test_json_text_errors_say_network_json():
    with pytest.raises(NetworkError, match=r"^network JSON: not valid JSON: key 'nodes'"):
        Network.from_json('{"nodes": [], "nodes": []}')
