# install rules: see issue 2, written next
