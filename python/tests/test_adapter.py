"""Adapters: which methods are tools, and how an adapter spec is loaded or refused."""

import sys
import textwrap

import pytest

from snakepit_worker.adapter import (Adapter, AdapterImportError, AdapterSpecError,
                                     describe_signature, load_adapter_class,
                                     qualified_type_name, tool)


class Tools(Adapter):
    @tool
    def plain(self):
        return "plain"

    @tool(name="renamed")
    def by_keyword(self):
        return "keyword"

    @tool("positional")
    def by_position(self):
        return "position"

    @tool
    @staticmethod
    def static():
        return "static"

    def helper(self):
        return "not a tool"


class Nested:
    class Inner(Adapter):
        @tool
        def inner(self):
            return "inner"


def test_marked_methods_are_tools_under_their_given_names():
    assert Tools.tool_names() == ["plain", "positional", "renamed", "static"]


def test_bound_tool_calls_the_method_and_is_none_for_an_unknown_name():
    tools = Tools()
    assert tools.bound_tool("renamed")() == "keyword"
    assert tools.bound_tool("static")() == "static"
    assert tools.bound_tool("helper") is None
    assert tools.bound_tool("nope") is None


def test_an_override_stays_a_tool_and_none_withdraws_one():
    class Override(Tools):
        def plain(self):
            return "overridden"

        by_keyword = None

    assert Override.tool_names() == ["plain", "positional", "static"]
    assert Override().bound_tool("plain")() == "overridden"
    assert Tools.tool_names() == ["plain", "positional", "renamed", "static"]


def test_two_methods_with_one_tool_name_are_refused_naming_both():
    with pytest.raises(TypeError, match=r"tool name 'same' is used by both a\(\) and b\(\)"):
        class Clash(Adapter):  # noqa: F841
            @tool(name="same")
            def a(self):
                pass

            @tool(name="same")
            def b(self):
                pass


def test_tool_refuses_an_empty_name_and_what_is_not_callable():
    with pytest.raises(TypeError, match="non-empty string"):
        tool(name="")
    with pytest.raises(TypeError, match="marks methods"):
        tool(42)


def test_json_default_refuses_naming_the_type():
    with pytest.raises(TypeError, match="Object of type set is not JSON serializable"):
        Adapter().json_default({1})


def test_a_spec_loads_a_module_level_or_nested_class():
    assert load_adapter_class("test_adapter:Tools") is Tools
    assert load_adapter_class("test_adapter:Nested.Inner") is Nested.Inner
    assert load_adapter_class("snakepit_worker.examples.basic:BasicAdapter").__name__ == "BasicAdapter"


@pytest.mark.parametrize("spec", ["no_colon", ":Class", "module:", "a:b:c"])
def test_a_malformed_spec_says_what_a_spec_looks_like(spec):
    with pytest.raises(AdapterSpecError, match="must look like package.module:ClassName"):
        load_adapter_class(spec)


def test_a_missing_attribute_names_the_adapters_the_module_defines():
    with pytest.raises(AdapterSpecError) as e:
        load_adapter_class("test_adapter:Missing")
    assert "has no attribute 'Missing'" in str(e.value)
    assert "Tools" in str(e.value)


def test_a_spec_naming_something_other_than_an_adapter_is_refused():
    with pytest.raises(AdapterSpecError, match="not a subclass of snakepit_worker.Adapter"):
        load_adapter_class("test_adapter:Nested")


def test_a_module_that_is_not_on_the_path_gets_a_pythonpath_hint():
    with pytest.raises(AdapterImportError) as e:
        load_adapter_class("no_such_package.module:Adapter")
    assert str(e.value).startswith("ModuleNotFoundError: ")
    assert "is the directory holding 'no_such_package' on PYTHONPATH?" in str(e.value)
    assert isinstance(e.value.__cause__, ModuleNotFoundError)


def _module(tmp_path, monkeypatch, name, source):
    (tmp_path / (name + ".py")).write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)


def test_a_module_whose_own_import_fails_gets_no_pythonpath_hint(tmp_path, monkeypatch):
    _module(tmp_path, monkeypatch, "imports_missing", "import not_installed_anywhere\n")
    with pytest.raises(AdapterImportError) as e:
        load_adapter_class("imports_missing:Adapter")
    assert "not_installed_anywhere" in str(e.value)
    assert "PYTHONPATH" not in str(e.value)


def test_a_module_that_exits_on_import_is_an_import_error_not_an_exit(tmp_path, monkeypatch):
    _module(tmp_path, monkeypatch, "exits_on_import", "import sys\nsys.exit(3)\n")
    with pytest.raises(AdapterImportError, match="^SystemExit: 3$"):
        load_adapter_class("exits_on_import:Adapter")


def test_a_module_that_raises_on_import_names_the_exception(tmp_path, monkeypatch):
    _module(tmp_path, monkeypatch, "raises_on_import", "raise ValueError('bad config')\n")
    with pytest.raises(AdapterImportError, match="^ValueError: bad config$"):
        load_adapter_class("raises_on_import:Adapter")


def test_qualified_type_names_leave_builtins_bare():
    assert qualified_type_name(ValueError) == "ValueError"
    assert qualified_type_name(AdapterSpecError) == "snakepit_worker.adapter.AdapterSpecError"
    assert qualified_type_name(Nested.Inner) == "test_adapter.Nested.Inner"


def test_describe_signature_shows_the_parameters_or_nothing():
    def f(seconds, *, precise=False):
        pass

    assert describe_signature(f) == "(seconds, *, precise=False)"
    assert describe_signature(object.__init__) in ("", "(self, /, *args, **kwargs)")
