def test_package_imports() -> None:
    import chatkit_core

    assert chatkit_core.__name__ == "chatkit_core"
