"""The shared kernel: the few helpers every block may import beside `errors` and `settings`.

- `request_id`: the request id, resolved once by whichever layer meets a request first.
- `stack`: wrapping an app's whole middleware stack from outside, once.
- `routes`: the template of the route serving a request, router prefixes included.
- `state`: a typed value a block keeps on ``app.state``, found again or refused with one message.

Nothing here knows any block; blocks import this package, never each other's private modules.
"""
