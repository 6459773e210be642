"""Loading of YAML config files with errors that name the file and the bad entry."""

import os

import yaml


class ConfigError(ValueError):
    """A config file is missing, unreadable, malformed or holds a bad value."""


def load_yaml(path):
    """Read a YAML mapping from path; raise ConfigError with the reason on any problem."""
    try:
        with open(path, encoding='utf-8') as stream:
            data = yaml.safe_load(stream)
    except OSError as error:
        raise ConfigError(f'cannot read config file {path}: {error.strerror}') from None
    except yaml.YAMLError as error:
        raise ConfigError(f'malformed YAML in {path}: {error}') from None
    if not isinstance(data, dict):
        raise ConfigError(f'{path}: expected a mapping at the top level, got {type(data).__name__}')
    return data


def require(mapping, key, where):
    """Return mapping[key] or raise ConfigError naming where the key was expected."""
    if not isinstance(mapping, dict):
        raise ConfigError(f'{where}: expected a mapping, got {type(mapping).__name__}')
    if key not in mapping:
        raise ConfigError(f'{where}: missing required key {key!r}')
    return mapping[key]


def require_mapping(mapping, key, where, keys=()):
    """Return mapping[key], itself a mapping holding every one of keys (else ConfigError)."""
    value = require(mapping, key, where)
    if not isinstance(value, dict):
        raise ConfigError(f'{where}.{key}: expected a mapping')
    missing = [name for name in keys if name not in value]
    if missing:
        raise ConfigError(f'{where}.{key}: missing {", ".join(missing)}')
    return value


def load_extending(path, sections, merge_entries=False, paths=(), seen=()):
    """Load a YAML file that may `extends:` another (a path relative to it).

    The named sections (mappings of entries by name) are merged into the base's entry by
    entry: null removes an entry, a new one comes after the base's, and a given entry
    replaces the base's whole, or with merge_entries updates only the keys it names.
    Other top-level keys override the base's. Keys in paths hold file names relative to
    the file that sets them; they come back absolute. ConfigError on a loop or bad entry.
    """
    path = os.path.abspath(path)
    if path in seen:
        raise ConfigError(f'{path}: extends itself (through {" -> ".join(seen)})')
    data = load_yaml(path)
    for key in paths:
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise ConfigError(f'{path}.{key}: expected a file name, got {value!r}')
        if value:
            data[key] = os.path.normpath(os.path.join(os.path.dirname(path), value))
    if 'extends' not in data:
        return data
    base_name = data.pop('extends')
    if not isinstance(base_name, str) or not base_name:
        raise ConfigError(f'{path}.extends: expected a file name, got {base_name!r}')
    base = load_extending(os.path.join(os.path.dirname(path), base_name), sections,
                          merge_entries, paths, (*seen, path))
    merged = {**base, **{k: v for k, v in data.items() if k not in sections}}
    for section in sections:
        entries = dict(_entries(base.get(section), f'{base_name}.{section}'))
        for name, entry in _entries(data.get(section), f'{path}.{section}').items():
            if entry is None:
                entries.pop(name, None)
            elif merge_entries and isinstance(entry, dict) and \
                    isinstance(entries.get(name), dict):
                entries[name] = {**entries[name], **entry}
            else:
                entries[name] = entry
        merged[section] = entries
    return merged


def _entries(section, where):
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise ConfigError(f'{where}: expected a mapping of entries by name')
    return section
