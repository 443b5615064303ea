import pytest

from nicemu.ndis.nbl import NetBuffer, NetBufferList, chain, iterate


def test_net_buffer__data_is_a_window_without_copying():
    buffer = bytearray(b"headerPAYLOAD")
    nb = NetBuffer(buffer, data_offset=6)
    view = nb.data()
    assert bytes(view) == b"PAYLOAD"
    buffer[6] = ord("p")
    assert bytes(view) == b"pAYLOAD"


def test_net_buffer__advance_and_retreat_move_the_data_start():
    nb = NetBuffer(b"0123456789")
    nb.advance(4)
    assert (nb.data_offset, nb.data_length, bytes(nb.data())) == (4, 6, b"456789")
    nb.retreat(2)
    assert bytes(nb.data()) == b"23456789"


def test_net_buffer__cannot_advance_past_its_end_or_retreat_before_the_buffer():
    nb = NetBuffer(b"0123")
    with pytest.raises(ValueError):
        nb.advance(5)
    with pytest.raises(ValueError):
        nb.retreat(1)


def test_chain__links_in_order_and_iterate_walks_it():
    nbls = [NetBufferList.from_frame(bytes([i])) for i in range(3)]
    head = chain(nbls)
    assert head is nbls[0]
    assert list(iterate(head)) == nbls
    assert nbls[2].next is None


def test_iterate__survives_the_caller_unlinking_as_it_walks():
    nbls = [NetBufferList.from_frame(bytes([i])) for i in range(3)]
    seen = []
    for nbl in iterate(chain(nbls)):
        nbl.next = None
        seen.append(nbl)
    assert seen == nbls


def test_chain__of_nothing_is_none():
    assert chain([]) is None
