"""mmmtcp.utils.config: the ``--cfg-options`` values of the tools."""
import pytest
from mmengine.config import DictAction

from mmmtcp.utils.config import parse_cfg_option_value


@pytest.mark.parametrize('value', [
    '5', '1.5e-3', 'true', 'False', 'None', 'abc', '/tmp/x', '1,2',
    '[a,b]', '[semseg, depth]', '(1, 2)', '[(1,2),[a,b],c]', "'quoted'",
    '"[a, b]"', 'a=b'
])
def test_values_without_spaces_in_elements_read_as_mmengine(value):
    assert parse_cfg_option_value(value) == DictAction._parse_iterable(value)


@pytest.mark.parametrize('value, expected', [
    ('/tmp/a b/c', '/tmp/a b/c'),
    ("'/tmp/a b/c'", '/tmp/a b/c'),
    ('"my run"', 'my run'),
    (' 5 ', 5),
    (' true', True),
    (' None ', None),
])
def test_single_values_with_spaces_kept(value, expected):
    assert parse_cfg_option_value(value) == expected


@pytest.mark.parametrize('value, match', [
    ('[a b, c]', 'holds a space'),
    ('/tmp/a b,/tmp/c', 'holds a space'),
    ('[a, (b]', 'Imbalanced brackets'),
])
def test_values_mmengine_would_alter_refused(value, match):
    with pytest.raises(ValueError, match=match):
        parse_cfg_option_value(value)
