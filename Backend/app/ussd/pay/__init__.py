"""Pay: paying a merchant by its till number, the Pay branch of the menu."""
