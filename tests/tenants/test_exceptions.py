"""Every domain error of every app shares one root and names the kind of answer it gets."""

from __future__ import annotations

import pytest

from hosted_agents import exceptions as agent_errors
from tenants import exceptions as tenancy_errors
from tenants.exceptions import DomainError, ErrorKind


def _domain_errors() -> list[type[DomainError]]:
    found: list[type[DomainError]] = []
    for module in (tenancy_errors, agent_errors):
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Exception)
                and value is not DomainError
            ):
                found.append(value)
    return sorted(set(found), key=lambda cls: cls.__name__)


@pytest.mark.parametrize("error", _domain_errors(), ids=lambda cls: cls.__name__)
def test_every_error_is_a_domain_error_with_a_kind_or_a_bug(error: type[Exception]) -> None:
    bugs = {"TenantScopeError", "AppendOnlyError", "ImmutableVersionError"}
    if error.__name__ in bugs:
        assert not issubclass(error, DomainError)
    else:
        assert issubclass(error, DomainError)
        assert isinstance(error.kind, ErrorKind)


def test_the_kinds_of_the_errors_interfaces_map() -> None:
    kinds = {
        tenancy_errors.ObjectNotFound: ErrorKind.NOT_FOUND,
        tenancy_errors.AlreadyExists: ErrorKind.CONFLICT,
        tenancy_errors.InvalidInput: ErrorKind.INVALID,
        tenancy_errors.Forbidden: ErrorKind.FORBIDDEN,
        tenancy_errors.TenantInactive: ErrorKind.FORBIDDEN,
        tenancy_errors.LimitExceeded: ErrorKind.LIMIT,
        tenancy_errors.ApiKeyRejected: ErrorKind.UNAUTHENTICATED,
        agent_errors.AgentNotPublished: ErrorKind.NOT_FOUND,
        agent_errors.UnknownToolError: ErrorKind.NOT_FOUND,
        agent_errors.QuotaExhausted: ErrorKind.LIMIT,
        agent_errors.AgentMisconfigured: ErrorKind.CONFLICT,
    }
    assert {cls: cls.kind for cls in kinds} == kinds


def test_a_suspended_tenant_is_a_tenancy_error_importable_from_both_apps() -> None:
    assert agent_errors.TenantInactive is tenancy_errors.TenantInactive
    assert issubclass(tenancy_errors.TenantInactive, tenancy_errors.TenancyError)


def test_invalid_input_carries_its_field_errors() -> None:
    error = tenancy_errors.InvalidInput("name", "must not be empty")
    assert (error.field, error.message) == ("name", "must not be empty")
    assert error.field_errors == {"name": ["must not be empty"]}
