from homeroom.cli import main

main()
