"""Choosing TCG or KVM, and finding QEMU, without running a guest."""

import pytest

from nicemu.vm import accel
from nicemu.vm.accel import choose_accel, find_qemu, kvm_unusable_reason, probe_kvm
from nicemu.vm.errors import AccelUnavailable, QemuMissing


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    monkeypatch.delenv(accel.ENV_VAR, raising=False)
    kvm_unusable_reason.cache_clear()
    yield
    kvm_unusable_reason.cache_clear()


def kvm_works(monkeypatch, reason):
    monkeypatch.setattr(accel, "kvm_unusable_reason", lambda: reason)


def test_choose__tcg_needs_no_probe(monkeypatch):
    def probe():
        raise AssertionError("probed")
    monkeypatch.setattr(accel, "kvm_unusable_reason", probe)
    assert choose_accel("tcg") == "tcg"


def test_choose__auto_is_kvm_when_the_probe_boots(monkeypatch):
    kvm_works(monkeypatch, None)
    assert choose_accel() == "kvm"


def test_choose__auto_is_tcg_when_the_probe_fails(monkeypatch):
    kvm_works(monkeypatch, "/dev/kvm does not exist")
    assert choose_accel("auto") == "tcg"


def test_choose__explicit_kvm_that_fails_says_why(monkeypatch):
    kvm_works(monkeypatch, "QEMU with KVM failed (status -6)")
    with pytest.raises(AccelUnavailable, match=r"status -6.*--accel tcg"):
        choose_accel("kvm")


def test_choose__the_environment_overrides_the_caller(monkeypatch):
    kvm_works(monkeypatch, None)
    monkeypatch.setenv(accel.ENV_VAR, "TCG")
    assert choose_accel("kvm") == "tcg"


def test_choose__an_unknown_accelerator_is_refused():
    with pytest.raises(ValueError, match="'hvf'.*auto, tcg, kvm"):
        choose_accel("hvf")


def test_choose__an_unknown_accelerator_in_the_environment_names_it(monkeypatch):
    monkeypatch.setenv(accel.ENV_VAR, "xen")
    with pytest.raises(ValueError, match=r"\$NICEMU_ACCEL is 'xen'"):
        choose_accel()


def test_probe__no_kvm_device_means_no_kvm(tmp_path, monkeypatch):
    monkeypatch.setattr(accel, "KVM_DEVICE", tmp_path / "kvm")
    assert kvm_unusable_reason() == f"{tmp_path / 'kvm'} does not exist"
    assert probe_kvm() is False


def test_probe__is_cached(tmp_path, monkeypatch):
    monkeypatch.setattr(accel, "KVM_DEVICE", tmp_path / "kvm")
    assert probe_kvm() is False
    (tmp_path / "kvm").touch()
    monkeypatch.setattr(accel.shutil, "which", lambda name: None)
    assert "does not exist" in kvm_unusable_reason()
    kvm_unusable_reason.cache_clear()
    assert "qemu-system-x86_64 is not installed" in kvm_unusable_reason()


def test_find_qemu__missing_says_how_to_install(monkeypatch):
    monkeypatch.setattr(accel.shutil, "which", lambda name: None)
    with pytest.raises(QemuMissing, match=r"make setup.*apt-get install qemu-system-x86"):
        find_qemu()
