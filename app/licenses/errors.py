"""Registered errors of the licenses codespace; numbers never change once released."""

from app.core.errors import register

LICENSES = "licenses"
INVALID_NAME = register(LICENSES, 1, "invalid_name", "the license name is not valid")
INVALID_SCRIPT = register(LICENSES, 2, "invalid_script", "the script failed its deploy check")
LICENSE_EXISTS = register(LICENSES, 3, "license_exists", "a license with this id already exists")
LICENSE_NOT_FOUND = register(LICENSES, 4, "license_not_found", "no license with this id")
INVALID_PARAMS = register(LICENSES, 5, "invalid_params", "the license parameters are not valid")
SCRIPT_TOO_LARGE = register(LICENSES, 6, "script_too_large", "the script exceeds the size limit")
