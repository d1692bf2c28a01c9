# Renewal notices and lifecycle transitions arrive with the renewals issue (design §5).
