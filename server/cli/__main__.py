from signoff.server.cli import main

main()
