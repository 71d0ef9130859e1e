"""Who is asking: principals from bearer tokens, single-use stream tickets, minting tokens (`build.py token`)."""
