import pytest

from cotoami_common.addresses import is_mail_address


@pytest.mark.parametrize(
    "address",
    [
        "ann@example.com",
        "Ann.Lee+notes@Example.CO.jp",
        "a!#$%&'*+/=?^_`{|}~-@mail.example.org",
        f"{'a' * 64}@example.com",
        f"a@{'b' * 63}.{'c' * 63}.{'d' * 63}.{'e' * 60}",  # 254 characters
    ],
)
def test_plain_addresses_are_mail_addresses(address):
    assert is_mail_address(address)


@pytest.mark.parametrize(
    "address",
    [
        "",
        "ann",
        "ann@",
        "@example.com",
        "ann@localhost",  # a host name of one label
        ".a@example.com",
        "a.@example.com",
        "a..b@example.com",
        "ann@-example.com",
        "ann@example-.com",
        "ann@example..com",
        "ann@example.com.",
        '"ann lee"@example.com',
        "ann@[192.0.2.1]",
        "anné@example.com",
        "ann@exämple.com",
        "ann lee@example.com",
        "ann@example.com\n",
        f"{'a' * 65}@example.com",
        f"a@{'b' * 63}.{'c' * 63}.{'d' * 63}.{'e' * 61}",  # 255 characters
    ],
)
def test_other_strings_are_not(address):
    assert not is_mail_address(address)
