"""ROS params files read the way rcl reads them, to check them before a rig starts.

rcl applies a file's `<node key>: {ros__parameters: {...}}` entries to every node whose
fully qualified name the key matches (`/**` any number of name tokens, `/*` one, a key
without a leading slash is rooted), later files winning. It says nothing about a
parameter no node declares, and keeps a value from an earlier file when a later one has
another type. These checks say it, with the file and the key, before anything moves.
No rclpy here.
"""

import difflib
import numbers
import os
import re

import yaml

from spacemine_ros.core.config import ConfigError


def load_params_file(path):
    """Return {node key: {parameter: value}} of a params file; ConfigError if malformed."""
    if not os.path.isfile(path):
        raise ConfigError(f'params file {path}: no such file')
    try:
        with open(path, encoding='utf-8') as stream:
            data = yaml.safe_load(stream)
    except yaml.YAMLError as error:
        mark = getattr(error, 'problem_mark', None)
        where = f' line {mark.line + 1}, column {mark.column + 1}' if mark else ''
        problem = getattr(error, 'problem', None) or str(error).splitlines()[0]
        raise ConfigError(f'params file {path}:{where}: {problem}') from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f'params file {path}: expected node names at the top level')
    entries = {}
    for key, entry in data.items():
        if not isinstance(entry, dict) or set(entry) != {'ros__parameters'}:
            raise ConfigError(f'params file {path}: {key}: expected exactly one key, '
                              f'ros__parameters')
        parameters = entry['ros__parameters'] or {}
        if not isinstance(parameters, dict):
            raise ConfigError(f'params file {path}: {key}.ros__parameters: expected '
                              f'name: value entries')
        entries[str(key)] = _flatten(parameters)
    return entries


def _flatten(parameters, prefix=''):
    flat = {}
    for name, value in parameters.items():
        if isinstance(value, dict):  # nested names are dotted parameter names
            flat.update(_flatten(value, f'{prefix}{name}.'))
        else:
            flat[f'{prefix}{name}'] = value
    return flat


def key_matches(key, fully_qualified_name):
    """Return whether a params-file node key applies to a node (rcl's wildcards)."""
    key = key if key.startswith('/') else '/' + key
    pattern = ''
    for token in key.strip('/').split('/'):
        if token == '**':
            pattern += r'(/[^/]+)*'
        elif token == '*':
            pattern += r'/[^/]+'
        else:
            pattern += '/' + re.escape(token)
    return re.fullmatch(pattern, fully_qualified_name) is not None


def names_the_node(key, node_name):
    """Return whether a key names this node itself, not every node (`/**`, `/*`)."""
    return key.rstrip('/').split('/')[-1] == node_name


def node_entries(files, fully_qualified_name):
    """Return [(path, key, parameters)] of every entry that names this node, in order."""
    node_name = fully_qualified_name.rsplit('/', 1)[-1]
    found = []
    for path, entries in files:
        for key, parameters in entries.items():
            if names_the_node(key, node_name) and key_matches(key, fully_qualified_name):
                found.append((path, key, parameters))
    return found


def _where(path, key, name):
    if path == '-p':  # the operator's command line
        return f'-p {key.rstrip("/").split("/")[-1]}.{name}'
    return f'{os.path.basename(path)}: {key}: {name}'


def _kind(value):
    if isinstance(value, bool) or type(value).__name__ == 'bool_':
        return 'bool'
    if isinstance(value, numbers.Integral):
        return 'integer'
    if isinstance(value, numbers.Real):
        return 'double'
    kinds = {str: 'string', list: 'array', tuple: 'array'}
    return kinds.get(type(value), type(value).__name__)


def problems_for_node(files, fully_qualified_name, declared, value_of):
    """Return the problems of the params files with one constructed node.

    files: [(path, entries)] in command-line order; declared: the node's parameter names;
    value_of(name): the value the node holds. A parameter named for this node that it
    does not declare is a problem (with the closest declared name); so is every value
    given for it whose type is not the parameter's, even one a later file or the command
    line overrides (rcl keeps an earlier value of another type, or the override hides a
    mistake the file would make on another start).
    """
    problems, given = [], set()
    for path, key, parameters in node_entries(files, fully_qualified_name):
        for name in parameters:
            if name in declared:
                given.add(name)
                continue
            close = difflib.get_close_matches(name, sorted(declared), n=1)
            problems.append(f'{_where(path, key, name)}: the node does not have this '
                            f'parameter' + (f' (did you mean {close[0]}?)' if close else ''))
    return problems + value_type_problems(files, fully_qualified_name,
                                          {name: value_of(name) for name in given})


def value_type_problems(files, fully_qualified_name, holds):
    """Return a problem for each value given for a node whose type is not its parameter's.

    holds: {parameter: a value of its type} (names not in it are not checked here), for a
    node checked without ROS (the headless engine's controllers, by their defaults).
    """
    problems = []
    for path, key, parameters in node_entries(files, fully_qualified_name):
        for name, value in parameters.items():
            problem = type_problem(name, value, holds[name]) if name in holds else ''
            if problem:
                problems.append(f'{_where(path, key, name)}: {problem}')
    return problems


def type_problem(name, value, held):
    """Return why a value cannot be given for a parameter holding `held` ('' if it can).

    An integer is a double's value too (rcl takes 1 for 1.0); a tuple is an array; numpy's
    numbers (a campaign's draws) are the numbers they are.
    """
    given, takes = _kind(value), _kind(held)
    if given == takes or takes == 'double' and given == 'integer':
        return ''
    return f'{value!r} is {_article(given)} {given}, the parameter takes {_article(takes)} ' \
        f'{takes}'


def _article(word):
    return 'an' if word[:1] in 'aeiou' else 'a'


def unused_wildcard_parameters(files, declared_anywhere):
    """Return problems for `/**` or `/*` entries naming parameters no node declares."""
    problems = []
    for path, entries in files:
        for key, parameters in entries.items():
            if key.rstrip('/').split('/')[-1] not in ('**', '*'):
                continue
            for name in parameters:
                if name not in declared_anywhere:
                    close = difflib.get_close_matches(name, sorted(declared_anywhere), n=1)
                    problems.append(f'{os.path.basename(path)}: {key}: {name}: no node of the '
                                    f'rig has this parameter'
                                    + (f' (did you mean {close[0]}?)' if close else ''))
    return problems


def type_error(text):
    """Return (name, given, kind, expected) from rclpy's InvalidParameterTypeException text.

    None if the text is not one; kind and expected are ROS type names (DOUBLE, ...).
    """
    found = re.search(r"parameter '([^']+)' to '(.*)' of type '(\w+)', expecting type "
                      r"'(\w+)'", text)
    return found.groups() if found else None


def describe_type_error(text, node_name=''):
    """Return one line for rclpy's type refusal: "drill.goal_depth: 'deep' is a string..."."""
    found = type_error(text)
    if not found:
        return text
    name, given, kind, expected = found
    prefix = f'{node_name}.' if node_name else ''
    return (f'{prefix}{name}: {given!r} is a {kind.lower()}, the parameter takes a '
            f'{expected.lower()}')


def params_files_in(argv):
    """Return the --params-file paths of a ROS command line, in order."""
    paths = []
    for index, arg in enumerate(argv[:-1]):
        if arg == '--params-file':
            paths.append(argv[index + 1])
    return paths
