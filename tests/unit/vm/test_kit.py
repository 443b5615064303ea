"""Locating and building the guest kit, without building a real one."""

import json

import pytest

from nicemu.vm import kit as kit_module
from nicemu.vm.errors import GuestKitBuildFailed, GuestKitMissing
from nicemu.vm.kit import GuestKit, build_guest_kit


def make_kit(directory, kernel="vmlinux", **overrides):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / kernel).write_bytes(b"\x7fELF")
    (directory / "initramfs.cpio").write_bytes(b"070701")
    manifest = {"kernel_version": "6.1.0-99-amd64", "kernel": kernel, "initrd": "initramfs.cpio"}
    manifest.update(overrides)
    (directory / "kit.json").write_text(json.dumps(manifest))
    return directory


@pytest.fixture(autouse=True)
def default_dir(tmp_path, monkeypatch):
    """The default kit directory, empty, and no $NICEMU_GUEST_KIT."""
    monkeypatch.delenv(kit_module.ENV_VAR, raising=False)
    directory = tmp_path / "guest" / "build"
    monkeypatch.setattr(kit_module, "DEFAULT_BUILD_DIR", directory)
    return directory


def test_locate__reads_the_manifest(tmp_path):
    directory = make_kit(tmp_path / "kit")
    assert GuestKit.locate(directory) == GuestKit(
        kernel=directory / "vmlinux", initrd=directory / "initramfs.cpio", version="6.1.0-99-amd64")


def test_locate__uses_the_kernel_the_manifest_names(tmp_path):
    directory = make_kit(tmp_path / "kit", kernel="bzImage")
    assert GuestKit.locate(directory).kernel == directory / "bzImage"


def test_locate__defaults_to_guest_build(default_dir):
    make_kit(default_dir)
    assert GuestKit.locate().kernel == default_dir / "vmlinux"


def test_locate__follows_the_environment(tmp_path, monkeypatch):
    directory = make_kit(tmp_path / "elsewhere")
    monkeypatch.setenv(kit_module.ENV_VAR, str(directory))
    assert GuestKit.locate().initrd == directory / "initramfs.cpio"


def test_locate__an_unbuilt_default_kit_says_make_guest():
    with pytest.raises(GuestKitMissing, match="not built.*run `make guest`"):
        GuestKit.locate()


def test_locate__an_unbuilt_kit_elsewhere_says_how_to_build_it_there(tmp_path):
    with pytest.raises(GuestKitMissing, match=r"guest/build\.sh .*elsewhere.*make guest"):
        GuestKit.locate(tmp_path / "elsewhere")


def test_locate__a_broken_manifest_says_rebuild(default_dir):
    make_kit(default_dir)
    (default_dir / "kit.json").write_text("{not json")
    with pytest.raises(GuestKitMissing, match="unreadable.*make guest"):
        GuestKit.locate()


def test_locate__a_manifest_without_a_field_is_unreadable(default_dir):
    make_kit(default_dir)
    (default_dir / "kit.json").write_text(json.dumps({"kernel": "vmlinux"}))
    with pytest.raises(GuestKitMissing, match="unreadable"):
        GuestKit.locate()


def test_locate__a_missing_kernel_is_an_incomplete_kit(default_dir):
    make_kit(default_dir)
    (default_dir / "vmlinux").unlink()
    with pytest.raises(GuestKitMissing, match="incomplete.*vmlinux.*make guest"):
        GuestKit.locate()


def fake_build_script(tmp_path, monkeypatch, body):
    script = tmp_path / "build.sh"
    script.write_text(body)
    monkeypatch.setattr(kit_module, "BUILD_SCRIPT", script)


def test_build__streams_progress_and_returns_the_kit(tmp_path, monkeypatch):
    fake_build_script(tmp_path, monkeypatch, """
echo "guest: downloading linux-image-6.1.0-99-amd64"
printf '{"kernel_version": "6.1.0-99-amd64", "kernel": "vmlinux", "initrd": "initramfs.cpio"}' >"$1/kit.json"
touch "$1/vmlinux" "$1/initramfs.cpio"
echo "guest: done in 1 s"
""")
    directory = tmp_path / "out"
    directory.mkdir()
    lines = []
    kit = build_guest_kit(directory, on_progress=lines.append)
    assert lines == ["guest: downloading linux-image-6.1.0-99-amd64", "guest: done in 1 s"]
    assert kit.version == "6.1.0-99-amd64"


def test_build__passes_force(tmp_path, monkeypatch):
    fake_build_script(tmp_path, monkeypatch, 'echo "args: $*"; exit 1\n')
    lines = []
    with pytest.raises(GuestKitBuildFailed):
        build_guest_kit(tmp_path / "out", force=True, on_progress=lines.append)
    assert lines == [f"args: --force {tmp_path / 'out'}"]


def test_build__a_failing_script_raises_with_its_status(tmp_path, monkeypatch):
    fake_build_script(tmp_path, monkeypatch, "echo 'guest: error: run apt-get update' >&2; exit 3\n")
    lines = []
    with pytest.raises(GuestKitBuildFailed, match="exit status 3"):
        build_guest_kit(tmp_path / "out", on_progress=lines.append)
    assert lines == ["guest: error: run apt-get update"]
