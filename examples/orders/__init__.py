"""An orders service built only from fastapi-pro blocks, one folder per feature.

```
main.py        create_app(): setup() plus the feature routers
seed.py        demo accounts and products
modules/users      registration, login (POST /auth/token), GET /users/me
modules/products   catalogue: paged, sorted, soft-deleted, optimistically locked
modules/orders     orders and their state machine
```

Run it with ``python -m examples.orders`` and open http://127.0.0.1:8000/docs.
"""
