"""The catalogue: staff maintain products, every signed-in user browses them."""
