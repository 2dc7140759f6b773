import pytest

from tinytorch.data import load_text


def test_reads_utf8_text(tmp_path):
    path = tmp_path / "story.txt"
    path.write_text("Café ☕ and naïve 🙂\nline two\n", encoding="utf-8")
    assert load_text(path) == "Café ☕ and naïve 🙂\nline two\n"
    assert load_text(str(path)) == "Café ☕ and naïve 🙂\nline two\n"


def test_bom_and_windows_line_ends_are_normalised(tmp_path):
    path = tmp_path / "win.txt"
    path.write_bytes("\ufeffone\r\ntwo\r\n".encode())
    assert load_text(path) == "one\ntwo\n"


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_text(tmp_path / "nope.txt")


def test_invalid_utf8_reports_path_and_byte_offset(tmp_path):
    path = tmp_path / "latin1.txt"
    # "né " is 3 characters but 4 bytes: the offset counts bytes.
    path.write_bytes("né ".encode() + "é".encode("latin-1") + b" def")
    with pytest.raises(ValueError, match=r"latin1\.txt is not valid UTF-8.*0xe9 at byte offset 4"):
        load_text(path)


@pytest.mark.parametrize("content", [b"", b" \n\t\n", b"\xef\xbb\xbf"])
def test_empty_text_is_refused(tmp_path, content):
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"empty\.txt contains no text"):
        load_text(path)
